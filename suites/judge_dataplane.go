package suites

import (
	"fmt"
	"strings"
	"time"

	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/verdict"
)

// dataPlaneRule is what the data plane owes during one fault run.
type dataPlaneRule struct {
	Workers []string // every worker whose NodePort was probed
	// Lost is the worker the fault takes away ("" for every other fault): its own
	// NodePort is not judged from the inject on, and the others' may fail until Routing
	// has passed.
	Lost    string
	Routing topology.Bound
}

// dataPlaneFailures counts the failed requests of one worker's NodePort series in [from, to).
type dataPlaneFailures struct {
	Worker            string
	Samples, Failures int
	First, Last       probe.Sample // the first and last failed request
}

func countDataPlane(tl probe.Timeline, worker string, from, to time.Duration) dataPlaneFailures {
	c := dataPlaneFailures{Worker: worker}
	for _, s := range tl.Series[monitor.PrefixDataPlane+worker] {
		if s.At < from || s.At >= to {
			continue
		}
		c.Samples++
		if s.OK {
			continue
		}
		if c.Failures == 0 {
			c.First = s
		}
		c.Failures++
		c.Last = s
	}
	return c
}

func (c dataPlaneFailures) String() string {
	if c.Failures == 0 {
		return fmt.Sprintf("%s: 0 of %d", c.Worker, c.Samples)
	}
	return fmt.Sprintf("%s: %d of %d, sent %s – %s (first: %s)", c.Worker, c.Failures, c.Samples, secs(c.First.At), secs(c.Last.At), c.First.FailureCause())
}

// judgeDataPlane judges the requests to the data-plane workload from the inject to the
// end of the recording (recovery included: a fault's undoing must not cost the
// applications either).
//
// Without a lost worker, none may fail: kube-proxy's rules and the running Pods need no
// control plane, so a partition, a lost quorum or stopped API servers cost the
// applications nothing. With one, the other workers' NodePorts may fail — a connection
// balanced to the lost worker's Pod — only until the routing bound has passed after the
// loss; the measure is when the last failed request was sent.
func judgeDataPlane(tl probe.Timeline, rule dataPlaneRule, inject, until, end time.Duration) judgement {
	if len(rule.Workers) == 0 {
		return passed(inject)
	}
	var counts []dataPlaneFailures
	for _, w := range rule.Workers {
		if w == rule.Lost {
			continue
		}
		c := countDataPlane(tl, w, inject, end)
		if need := minSamples(end-inject, monitor.DataPlaneEvery); c.Samples < need {
			return judged(verdict.GuaranteeBroken, "only %d requests to the data-plane workload on %s's NodePort between the inject (%s) and the recording's end (%s), %d needed: the data plane was not shown to serve",
				c.Samples, w, secs(inject), secs(end), need)
		}
		counts = append(counts, c)
	}
	if rule.Lost == "" {
		return judgeDataPlaneServed(counts)
	}
	return judgeDataPlaneRerouted(tl, counts, rule, inject, until, end)
}

func judgeDataPlaneServed(counts []dataPlaneFailures) judgement {
	failed, total, detail := 0, 0, make([]string, len(counts))
	for i, c := range counts {
		failed, total, detail[i] = failed+c.Failures, total+c.Samples, c.String()
	}
	j := passed(0, reports.Measurement{Name: "data plane: failed requests to the workload's NodePorts", Value: float64(failed), Unit: "requests",
		Formula: "none may fail: kube-proxy's rules and the running Pods serve without the control plane"})
	j.Notes = append(j.Notes, reports.Note{Name: "data plane: requests per worker (failed of sent)", Value: strings.Join(detail, "; ")})
	if failed > 0 {
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("%d of %d requests to the data-plane workload failed (%s): the applications' traffic must not depend on the control plane",
			failed, total, strings.Join(detail, "; "))
	}
	return j
}

// judgeDataPlaneRerouted: on the workers still there, requests failed only until the
// routing bound after the loss, not after it — while the fault held or after recovery.
func judgeDataPlaneRerouted(tl probe.Timeline, counts []dataPlaneFailures, rule dataPlaneRule, inject, until, end time.Duration) judgement {
	cutoff := inject + rule.Routing.Value
	var last time.Duration
	var during, pastBound, afterRecovery []string
	afterSamples := 0
	for _, c := range counts {
		held := countDataPlane(tl, c.Worker, inject, until)
		if held.Failures > 0 {
			last = max(last, held.Last.At-inject)
		}
		during = append(during, held.String())
		past := countDataPlane(tl, c.Worker, cutoff, until)
		afterSamples += past.Samples
		if past.Failures > 0 {
			pastBound = append(pastBound, past.String())
		}
		if r := countDataPlane(tl, c.Worker, until, end); r.Failures > 0 {
			afterRecovery = append(afterRecovery, r.String())
		}
	}
	if need := minSamples(until-cutoff, monitor.DataPlaneEvery); cutoff >= until || afterSamples < need {
		return judged(verdict.FaultNotInEffect, "the worker loss held until %s with %d requests on the other workers' NodePorts after the routing bound (%s after the loss): not long enough past the bound to show the routing",
			secs(until), afterSamples, rule.Routing.Value)
	}
	j := passed(inject, boundMeasurement("worker lost: data-plane requests routed away from its Pods after (last failed request sent)", last, rule.Routing))
	j.Notes = append(j.Notes, reports.Note{Name: "worker lost: data-plane requests on the other workers' NodePorts while the fault held (failed of sent)", Value: strings.Join(during, "; ")})
	switch {
	case len(pastBound) > 0:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("requests to the data-plane workload on the other workers' NodePorts still failed %s after %s was lost, past the routing bound %s (%s)",
			secs(last), rule.Lost, rule.Routing, strings.Join(pastBound, "; "))
	case len(afterRecovery) > 0:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("requests to the data-plane workload failed after %s came back (%s): recovery must not cost the applications",
			rule.Lost, strings.Join(afterRecovery, "; "))
	}
	return j
}
