package suites

import (
	"fmt"
	"strings"
	"time"

	"github.com/hachaos/hachaos/dataplane"
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
	if rule.Lost == "" {
		m, notes, problem := dataplane.JudgeServed(tl, rule.Workers, inject, end)
		j := passed(inject, m)
		j.Notes = append(j.Notes, notes...)
		if problem != "" {
			j.Verdict, j.Reason = verdict.GuaranteeBroken, problem
		}
		return j
	}
	var counts []dataplane.Requests
	for _, w := range rule.Workers {
		if w == rule.Lost {
			continue
		}
		c := dataplane.Count(tl, w, inject, end)
		if need := minSamples(end-inject, dataplane.Every); c.Sent < need {
			return judged(verdict.GuaranteeBroken, "only %d requests to the data-plane workload on %s's NodePort between the inject (%s) and the recording's end (%s), %d needed: the data plane was not shown to serve",
				c.Sent, w, secs(inject), secs(end), need)
		}
		counts = append(counts, c)
	}
	return judgeDataPlaneRerouted(tl, counts, rule, inject, until, end)
}

// judgeDataPlaneRerouted: on the workers still there, requests failed only until the
// routing bound after the loss, not after it — while the fault held or after recovery.
func judgeDataPlaneRerouted(tl probe.Timeline, counts []dataplane.Requests, rule dataPlaneRule, inject, until, end time.Duration) judgement {
	cutoff := inject + rule.Routing.Value
	var last time.Duration
	var during, pastBound, afterRecovery []string
	afterSamples := 0
	for _, c := range counts {
		held := dataplane.Count(tl, c.Worker, inject, until)
		if held.Failed > 0 {
			last = max(last, held.Last.At-inject)
		}
		during = append(during, held.String())
		past := dataplane.Count(tl, c.Worker, cutoff, until)
		afterSamples += past.Sent
		if past.Failed > 0 {
			pastBound = append(pastBound, past.String())
		}
		if r := dataplane.Count(tl, c.Worker, until, end); r.Failed > 0 {
			afterRecovery = append(afterRecovery, r.String())
		}
	}
	if need := minSamples(until-cutoff, dataplane.Every); cutoff >= until || afterSamples < need {
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
