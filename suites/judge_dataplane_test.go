package suites

import (
	"testing"
	"time"

	"github.com/hachaos/hachaos/dataplane"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/verdict"
)

// dataPlaneTimeline records a 100 ms NodePort series per worker over [0, end); failing
// says, per worker, which sending instants fail.
func dataPlaneTimeline(end time.Duration, failing map[string]func(at time.Duration) bool, workers ...string) probe.Timeline {
	tl := probe.Timeline{Series: map[string][]probe.Sample{}}
	for _, w := range workers {
		for at := time.Duration(0); at < end; at += dataplane.Every {
			s := probe.Sample{At: at, Latency: 5 * time.Millisecond, OK: true, Value: "hachaos-serve-x"}
			if f := failing[w]; f != nil && f(at) {
				s.OK, s.Value, s.Error, s.Cause, s.Latency = false, "", "connection refused", probe.CauseRefused, time.Millisecond
			}
			tl.Series[dataplane.PrefixSeries+w] = append(tl.Series[dataplane.PrefixSeries+w], s)
		}
	}
	return tl
}

func between(from, to time.Duration) func(time.Duration) bool {
	return func(at time.Duration) bool { return at >= from && at < to }
}

// routingBound is the fast profile's: grace 20s + monitor period 2s + batch 0 + min sync 1s + API request timeout 2s.
var routingBound = topology.NewBounds(topology.Default(), topology.DefaultComponentTimings()).WorkerLossRouting(topology.DefaultRoutingTimings(), monitor.SampleTimeout)

func TestDataPlaneJudgeControls(t *testing.T) {
	const inject, until, end = 10 * time.Second, 50 * time.Second, 70 * time.Second
	served := dataPlaneRule{Workers: []string{"w1", "w2"}}
	lost := dataPlaneRule{Workers: []string{"w1", "w2"}, Lost: "w1", Routing: routingBound}
	rerouteAt := inject + routingBound.Value - 2*time.Second
	for _, tc := range []struct {
		name    string
		rule    dataPlaneRule
		failing map[string]func(time.Duration) bool
		until   time.Duration
		want    verdict.Verdict
		reason  string
	}{
		{name: "control-plane fault, every request served", rule: served, want: verdict.Passed},
		{name: "control-plane fault, a failure before the inject is the gate's, not the fault's", rule: served, failing: map[string]func(time.Duration) bool{"w2": between(0, inject)}, want: verdict.Passed},
		{name: "control (liveness on the API): requests fail while quorum is lost", rule: served, failing: map[string]func(time.Duration) bool{"w2": between(20*time.Second, 25*time.Second)}, want: verdict.GuaranteeBroken, reason: "must not depend on the control plane"},
		{name: "worker lost, rerouted within the bound", rule: lost, failing: map[string]func(time.Duration) bool{"w1": between(inject, end), "w2": between(inject, rerouteAt)}, want: verdict.Passed},
		{name: "control (pinned to the lost worker): failing until recovery", rule: lost, failing: map[string]func(time.Duration) bool{"w1": between(inject, end), "w2": between(inject, until)}, want: verdict.GuaranteeBroken, reason: "past the routing bound"},
		{name: "worker lost, requests fail again after it came back", rule: lost, failing: map[string]func(time.Duration) bool{"w1": between(inject, end), "w2": between(until+time.Second, until+2*time.Second)}, want: verdict.GuaranteeBroken, reason: "after w1 came back"},
		{name: "worker lost, recovered before the bound: nothing shown", rule: lost, until: inject + routingBound.Value - time.Second, want: verdict.FaultNotInEffect, reason: "not long enough past the bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := until
			if tc.until != 0 {
				u = tc.until
			}
			tl := dataPlaneTimeline(end, tc.failing, "w1", "w2")
			j := judgeDataPlane(tl, tc.rule, inject, u, tl.End())
			expectVerdict(t, tc.name, j, tc.want, tc.reason)
		})
	}
}

func TestDataPlaneJudgeMeasuresWhenRequestsLeftTheLostWorker(t *testing.T) {
	const inject, until = 10 * time.Second, 50 * time.Second
	tl := dataPlaneTimeline(60*time.Second, map[string]func(time.Duration) bool{"w1": between(inject, 60*time.Second), "w2": between(inject, inject+18*time.Second)}, "w1", "w2")
	j := judgeDataPlane(tl, dataPlaneRule{Workers: []string{"w1", "w2"}, Lost: "w1", Routing: routingBound}, inject, until, tl.End())
	if j.Verdict != verdict.Passed || len(j.Measured) != 1 {
		t.Fatalf("verdict %s (%s), measured %v", j.Verdict, j.Reason, j.Measured)
	}
	if got, want := j.Measured[0].Value, (18*time.Second - dataplane.Every).Seconds(); got < want-0.001 || got > want+0.001 {
		t.Errorf("measured %.3f s, want the last failed request's sending %.3f s after the loss", got, want)
	}
}

func TestDataPlaneJudgeWantsSamples(t *testing.T) {
	tl := dataPlaneTimeline(11*time.Second, nil, "w1")
	j := judgeDataPlane(tl, dataPlaneRule{Workers: []string{"w1", "w2"}}, 10*time.Second, 60*time.Second, 60*time.Second)
	expectVerdict(t, "no samples of w2", j, verdict.GuaranteeBroken, "was not shown to serve")
}
