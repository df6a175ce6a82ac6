package monitor

import (
	"fmt"
	"strings"
	"time"

	"github.com/hachaos/hachaos/apicheck"
	"github.com/hachaos/hachaos/dataplane"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/verdict"
)

// Recording is everything one monitored run saw, on the recorder's clock.
type Recording struct {
	Timeline probe.Timeline
	History  probe.KVHistory
	// Started and Ended bracket the command; Healthy is when the readiness gate passed
	// after it (0: it did not within waits.clusterReady).
	Started, Ended, Healthy time.Duration
	// CommandErr is why the command did not complete (a non-zero exit, an interrupt).
	CommandErr error
	// GateErr is why the readiness gate after the command did not pass in time.
	GateErr error
	// MissingWrites are acknowledged etcd writes not read back after the run.
	MissingWrites []string
	// Linearizable is porcupine's result on the history ("" when not checked).
	Linearizable string
	// API is the Kubernetes API traffic's history (empty when there was none).
	API apicheck.History
	// Allowances are the command's steps allowed to cost clients through the LB more
	// than the Spec's budget (each judged on its own against budget + allowance; the
	// rest of the run against the Spec's budget alone).
	Allowances []Allowance
	// LeaseBounds are the Leases' takeover bounds by name (LeaseBounds); a Lease without
	// one is not judged.
	LeaseBounds map[string]topology.Bound
}

// Allowance is a step of the command seen restarting something clients through the load
// balancer cannot be shielded from (rolling.RestartedStackedEtcd): between From and To
// requests through the LB may fail for Bound (topology.DisruptionSpec.PlusLBAllowance),
// a bound from the Spec and the running components' flags, never the command's own say.
// The window is judged against the allowance alone: the Spec's budget is the rest of the
// run's, granted once.
type Allowance struct {
	Step      string
	From, To  time.Duration
	Restarted string
	Bound     topology.Bound
}

// budgetFrom names the allowance's budget and formula for the reports.
func (a Allowance) budgetFrom() string {
	return fmt.Sprintf("allowance for the %s it restarted, %s (kept-alive: + client timeout %s); the Spec's disruption budget is held against the rest of the run", a.Restarted, a.Bound.FormulaText(), SampleTimeout)
}

// Judgement is the monitor's verdict on a recording, with what it measured.
type Judgement struct {
	Verdict  verdict.Verdict
	Reason   string
	Measured []reports.Measurement
	Notes    []reports.Note
}

// Judge holds a recording to the Spec's disruption budgets, the etcd guarantees
// (every acknowledged write kept, a linearizable history, the write gap within
// writeGap), the API's (when there was API traffic) and the data plane's (when its
// NodePorts were probed: none may fail), from the command's start until the cluster was healthy again (or the end
// of the recording). The verdict: the command not completed is "fault not in effect";
// a budget or guarantee broken "guarantee broken"; a cluster not healthy again in time
// "did not recover"; else passed. Every step of the command is measured on its own.
func Judge(r Recording, budgets topology.DisruptionSpec, writeGap topology.Bound) Judgement {
	until := r.Healthy
	if until == 0 {
		until = r.Ended
	}
	var j Judgement
	broken := judgeDisruptionWithAllowances(r, budgets, until, &j)
	problems := describe(broken)
	problems = append(problems, etcdProblems(r, &j, writeGap, until)...)
	problems = append(problems, skewJudged(r, &j, until)...)
	problems = append(problems, leasesJudged(r, &j, until)...)
	problems = append(problems, pdbJudged(r, &j, until)...)
	if workers := dataplane.Workers(r.Timeline); len(workers) > 0 {
		m, notes, problem := dataplane.JudgeServed(r.Timeline, workers, r.Started, until)
		j.Measured, j.Notes = append(j.Measured, m), append(j.Notes, notes...)
		if problem != "" {
			problems = append(problems, problem)
		}
	}
	if len(r.API.Operations) > 0 {
		notes, problem := JudgeAPI(r.API)
		j.Notes = append(j.Notes, notes...)
		if problem != "" {
			problems = append(problems, problem)
		}
	}
	j.Notes = append(j.Notes, stepNotes(r, budgets)...)
	switch {
	case r.CommandErr != nil:
		j.Verdict, j.Reason = verdict.FaultNotInEffect, fmt.Sprintf("the command did not complete: %v", r.CommandErr)
		if len(problems) > 0 {
			j.Reason += " (meanwhile: " + strings.Join(problems, "; ") + ")"
		}
	case len(problems) > 0:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, strings.Join(problems, "; ")
	case r.GateErr != nil:
		j.Verdict, j.Reason = verdict.DidNotRecover, fmt.Sprintf("the readiness gate did not pass within waits.clusterReady after the command: %v", r.GateErr)
	default:
		j.Verdict = verdict.Passed
	}
	return j
}

// judgeDisruptionWithAllowances holds each step with an allowance to its allowance
// alone, and the rest of the run to the Spec's budget; it returns what broke its budget.
func judgeDisruptionWithAllowances(r Recording, budgets topology.DisruptionSpec, until time.Duration, j *Judgement) []Disruption {
	scope := "whole run"
	var skip []span
	for _, a := range r.Allowances {
		skip = append(skip, span{a.From, a.To})
		scope = "outside the steps with an allowance"
	}
	all, broken := judgeDisruptionOutside(r.Timeline, r.History, budgets, r.Started, until, skip)
	for _, d := range all {
		j.Measured = append(j.Measured, d.Measurements(scope)...)
	}
	for _, a := range r.Allowances {
		stepAll, _ := JudgeDisruption(r.Timeline, r.History, budgets.Spent().PlusLBAllowance(a.Bound.Value, SampleEvery, SampleTimeout), a.From, a.To)
		for _, d := range stepAll {
			d.Window, d.BudgetFrom = "step "+a.Step, a.budgetFrom()
			j.Measured = append(j.Measured, d.Measurements(d.Window)...)
			if d.Broken() {
				broken = append(broken, d)
			}
		}
	}
	return broken
}

func describe(broken []Disruption) []string {
	var out []string
	for _, d := range broken {
		out = append(out, "over its disruption budget: "+d.String())
	}
	return out
}

// etcdProblems checks the etcd guarantees when there was traffic.
func etcdProblems(r Recording, j *Judgement, writeGap topology.Bound, until time.Duration) []string {
	if len(r.History.Operations) == 0 {
		return nil
	}
	var problems []string
	acked := len(r.History.Acknowledged())
	j.Measured = append(j.Measured, reports.Measurement{Name: "etcd: acknowledged writes lost", Value: float64(len(r.MissingWrites)), Unit: "writes",
		Formula: fmt.Sprintf("none may be lost (%d operations acknowledged)", acked)})
	if len(r.MissingWrites) > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged etcd writes were not read back: %s", len(r.MissingWrites), strings.Join(first(r.MissingWrites, 5), ", ")))
	}
	if r.Linearizable != "" && r.Linearizable != "Ok" {
		problems = append(problems, "the etcd history is not linearizable: porcupine says "+r.Linearizable)
	}
	j.Notes = append(j.Notes, reports.Note{Name: "etcd: the history is linearizable (porcupine)", Value: r.Linearizable})
	gap, at := r.History.MaxAckGap(r.Started, until)
	j.Measured = append(j.Measured, reports.Measurement{Name: "etcd: longest time without an acknowledged write", Value: gap.Seconds(), Unit: "s",
		Bound: writeGap.Value.Seconds(), Formula: writeGap.FormulaText(), Inputs: writeGap.Inputs})
	if gap > writeGap.Value {
		problems = append(problems, fmt.Sprintf("no etcd write was acknowledged for %.2f s (from %.2f s), bound %s", gap.Seconds(), at.Seconds(), writeGap))
	}
	return problems
}

// skewJudged: the version-skew policy held in every sample of the run.
func skewJudged(r Recording, j *Judgement, until time.Duration) []string {
	samples := r.Timeline.Series[SeriesVersionSkew]
	if len(samples) == 0 {
		return nil
	}
	n, checked, first := violations(samples, SkewViolation, r.Started, until)
	j.Measured = append(j.Measured, reports.Measurement{Name: "version-skew policy: samples breaking it", Value: float64(n), Unit: "samples",
		Formula: fmt.Sprintf("none: no kubelet newer than any API server, API servers within one minor (%d samples read the live versions)", checked)})
	if n > 0 {
		return []string{fmt.Sprintf("the version-skew policy was broken in %d samples, first at %.1f s: %s (%s)", n, first.At.Seconds(), strings.TrimPrefix(first.Error, SkewViolation), first.Value)}
	}
	return nil
}

// stepNotes measures each step of the command on its own: its duration and what each
// backend's clients saw during it.
func stepNotes(r Recording, budgets topology.DisruptionSpec) []reports.Note {
	var notes []reports.Note
	for _, s := range r.Timeline.StepBands(r.Ended) {
		all, _ := JudgeDisruption(r.Timeline, r.History, budgets, s.From, s.To)
		var parts []string
		for _, d := range all {
			parts = append(parts, fmt.Sprintf("%s %d of %d failed (%.2f s)", d.Backend, d.Failed, d.Requests, d.Seconds.Seconds()))
		}
		notes = append(notes, reports.Note{Name: "step " + s.Name, Value: fmt.Sprintf("%.1f s from %.1f s; %s", (s.To - s.From).Seconds(), s.From.Seconds(), strings.Join(parts, "; "))})
	}
	return notes
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
