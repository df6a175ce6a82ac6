package monitor

import (
	"testing"
	"time"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// samples builds a series at 100 ms from 0 with the given indexes failed (answered after
// latency).
func samples(n int, latency time.Duration, failed ...int) []probe.Sample {
	out := make([]probe.Sample, n)
	for i := range out {
		out[i] = probe.Sample{At: ms(100 * i), Latency: ms(5), OK: true}
	}
	for _, i := range failed {
		out[i].OK, out[i].Latency = false, latency
	}
	return out
}

func TestJudgeDisruptionHoldsEachBackendToItsBudget(t *testing.T) {
	tl := probe.Timeline{Series: map[string][]probe.Sample{
		SeriesLB:                  samples(50, ms(2), 10, 11), // refused at once: a cadence each, adjacent
		SeriesLBKeepAlive:         samples(50, ms(5)),
		PrefixAPIServer + "node1": samples(50, ms(2000), 20), // hung for 2 s
	}}
	h := probe.KVHistory{Operations: []probe.KVOperation{
		{Kind: "put", Call: ms(100), Return: ms(110), OK: true},
		{Kind: "put", Call: ms(200), Return: ms(2200)},
		{Kind: "get", Call: ms(300), Return: ms(2300)},
	}}
	budgets := topology.DisruptionSpec{APIServer: topology.DisruptionBudget{RecordOnly: true}, EtcdWrites: topology.DisruptionBudget{FailedRequests: 1, Seconds: topology.Duration{Duration: 2 * time.Second}}}
	all, broken := JudgeDisruption(tl, h, budgets, 0, 5*time.Second)
	got := map[string]Disruption{}
	for _, d := range all {
		got[d.Backend] = d
	}
	if d := got["LB new connections"]; d.Failed != 2 || d.Requests != 50 || d.Seconds != ms(200) || !d.Broken() {
		t.Errorf("LB new connections: %v, broken %v; want 2 of 50 failed over 0.2 s, broken", d, d.Broken())
	}
	if d := got["LB kept-alive connection"]; d.Failed != 0 || d.Broken() {
		t.Errorf("kept-alive: %v; want nothing failed", d)
	}
	if d := got["API server node1"]; d.Failed != 1 || d.Seconds != 2*time.Second || d.Broken() {
		t.Errorf("API server: %v; want 1 failed over 2 s, recorded only", d)
	}
	if d := got["etcd writes"]; d.Failed != 1 || d.Requests != 2 || d.Seconds != 2*time.Second || d.Broken() {
		t.Errorf("etcd writes: %v; want 1 of 2 writes failed over 2 s, within its budget", d)
	}
	if len(broken) != 1 || broken[0].Backend != "LB new connections" {
		t.Errorf("broken = %v, want only the LB's new connections", broken)
	}
}

func TestJudgeDisruptionCountsOnlyTheWindow(t *testing.T) {
	tl := probe.Timeline{Series: map[string][]probe.Sample{SeriesLB: samples(50, ms(2), 5, 40), SeriesLBKeepAlive: samples(50, ms(5))}}
	_, broken := JudgeDisruption(tl, probe.KVHistory{}, topology.DisruptionSpec{}, ms(1000), ms(3000))
	if len(broken) != 0 {
		t.Errorf("failures outside [1 s, 3 s) judged: %v", broken)
	}
}

func TestUnionLength(t *testing.T) {
	got := unionLength([]span{{ms(0), ms(100)}, {ms(50), ms(300)}, {ms(1000), ms(1100)}, {ms(1050), ms(1080)}})
	if got != ms(400) {
		t.Errorf("union = %s, want 400ms", got)
	}
}

func TestJudgeDisruptionCountsSessionsTheLBCutApart(t *testing.T) {
	backend := samples(50, ms(2))
	for i := 12; i < 50; i++ { // marked DOWN: last UP answered 1.102 s, DOWN answered 1.202 s
		backend[i].OK, backend[i].Error = false, "node1 is DOWN"
	}
	lb := samples(50, ms(5))
	lb[11].OK, lb[11].Error, lb[11].Latency = false, "EOF", ms(40) // in flight 1.10–1.14 s
	tl := probe.Timeline{Series: map[string][]probe.Sample{SeriesLB: lb, SeriesLBKeepAlive: samples(50, ms(5)), PrefixBackend + "node1": backend}}
	for allowed, wantBroken := range map[bool]bool{true: false, false: true} {
		all, broken := JudgeDisruption(tl, probe.KVHistory{}, topology.DisruptionSpec{CutSessionsAllowed: allowed}, 0, 5*time.Second)
		if all[0].Cut != 1 || (len(broken) > 0) != wantBroken {
			t.Errorf("cut allowed %v: %v, broken %v; want 1 cut, broken %v", allowed, all[0], broken, wantBroken)
		}
	}
	lb[11].At = ms(500) // failed long before any mark-down: not a cut session
	all, broken := JudgeDisruption(tl, probe.KVHistory{}, topology.DisruptionSpec{CutSessionsAllowed: true}, 0, 5*time.Second)
	if all[0].Cut != 0 || len(broken) != 1 {
		t.Errorf("an early failure counted as cut: %v", all[0])
	}
}

// The measurements agree with the verdict: a request HAProxy cut at mark-down, allowed
// by the Spec, is counted apart in the value too; not allowed, it counts.
func TestDisruptionMeasurementsAgreeWithBroken(t *testing.T) {
	budget := topology.DisruptionBudget{FailedRequests: 0}
	for _, d := range []Disruption{
		{Backend: "LB new connections", Requests: 3581, Failed: 1, Cut: 1, CutAllowed: true, Seconds: 100 * time.Millisecond, Budget: budget},
		{Backend: "LB new connections", Requests: 3581, Failed: 1, Cut: 1, CutAllowed: false, Seconds: 100 * time.Millisecond, Budget: budget},
		{Backend: "LB new connections", Requests: 3581, Failed: 2, Cut: 1, CutAllowed: true, Seconds: 200 * time.Millisecond, Budget: budget},
	} {
		within := true
		for _, m := range d.Measurements("whole run") {
			within = within && m.Within()
		}
		if within == d.Broken() {
			t.Errorf("%s: measurements within their bounds = %t, but Broken() = %t: %+v", d, within, d.Broken(), d.Measurements("whole run"))
		}
	}
}
