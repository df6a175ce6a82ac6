package monitor

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/verdict"
)

var testWriteGap = topology.NewBounds(topology.Default(), topology.DefaultComponentTimings()).EtcdWriteGap(KVOpTimeout)

func quietRecording(failedLB ...int) Recording {
	tl := probe.Timeline{Series: map[string][]probe.Sample{SeriesLB: samples(100, ms(2), failedLB...), SeriesLBKeepAlive: samples(100, ms(5))},
		Events: []probe.Event{{At: ms(1000), Kind: probe.EventStepBegin, Name: "node1: restart kube-apiserver"}, {At: ms(4000), Kind: probe.EventStepEnd, Name: "node1: restart kube-apiserver"}}}
	var h probe.KVHistory
	for i := 0; i < 100; i++ {
		h.Operations = append(h.Operations, probe.KVOperation{Kind: "put", Call: ms(100 * i), Return: ms(100*i + 10), OK: true})
	}
	return Recording{Timeline: tl, History: h, Started: 0, Ended: ms(9000), Healthy: ms(9500), Linearizable: "Ok"}
}

func TestMonitorJudgeVerdicts(t *testing.T) {
	budgets := topology.Default().Disruption
	cases := []struct {
		name   string
		doctor func(r *Recording)
		want   verdict.Verdict
		reason string
	}{
		{"nothing failed", func(*Recording) {}, verdict.Passed, ""},
		{"a request through the LB failed (zero budget)", func(r *Recording) { *r = quietRecording(20) }, verdict.GuaranteeBroken, "LB new connections: 1 of"},
		{"an acknowledged write lost", func(r *Recording) { r.MissingWrites = []string{"/k/1"} }, verdict.GuaranteeBroken, "not read back"},
		{"the history is not linearizable", func(r *Recording) { r.Linearizable = "Illegal" }, verdict.GuaranteeBroken, "not linearizable"},
		{"no write acknowledged for longer than the bound", func(r *Recording) {
			r.History.Operations = append(r.History.Operations[:10:10], probe.KVOperation{Kind: "put", Call: ms(8000), Return: ms(8010), OK: true})
		}, verdict.GuaranteeBroken, "no etcd write was acknowledged"},
		{"the command failed", func(r *Recording) { r.CommandErr = errors.New("exit status 2") }, verdict.FaultNotInEffect, "did not complete"},
		{"not healthy again", func(r *Recording) { r.Healthy, r.GateErr = 0, errors.New("etcd has no leader") }, verdict.DidNotRecover, "readiness gate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := quietRecording()
			c.doctor(&r)
			j := Judge(r, budgets, testWriteGap)
			if j.Verdict != c.want || !strings.Contains(j.Reason, c.reason) {
				t.Fatalf("verdict %q (%s), want %q saying %q", j.Verdict, j.Reason, c.want, c.reason)
			}
		})
	}
}

func TestMonitorJudgeMeasuresEachStep(t *testing.T) {
	j := Judge(quietRecording(15), topology.Default().Disruption, testWriteGap)
	var step string
	for _, n := range j.Notes {
		if strings.HasPrefix(n.Name, "step ") {
			step = n.Value
		}
	}
	if !strings.Contains(step, "3.0 s from 1.0 s") || !strings.Contains(step, "LB new connections 1 of 30 failed") {
		t.Errorf("step note %q: want its duration and the failure inside it", step)
	}
}

// A recorded upgrade in kubeadm's guide order: the first control plane's kubelet was
// upgraded while two API servers still ran the old version.
func TestMonitorJudgeCatchesTheRecordedSkewOfTheGuideOrder(t *testing.T) {
	tl, err := probe.Load("testdata/upgrade-guide-order-skew.timeline.json")
	if err != nil {
		t.Fatal(err)
	}
	end := tl.Events[len(tl.Events)-1].At
	j := Judge(Recording{Timeline: tl, Started: 0, Ended: end, Healthy: end}, topology.DisruptionSpec{LBNewConnections: topology.DisruptionBudget{RecordOnly: true}, LBKeptAlive: topology.DisruptionBudget{RecordOnly: true}}, testWriteGap)
	if j.Verdict != verdict.GuaranteeBroken || !strings.Contains(j.Reason, "is newer than the API server v1.36.3") {
		t.Fatalf("verdict %q (%s), want the skew caught", j.Verdict, j.Reason)
	}
}

// A step seen restarting a stacked etcd member may cost the LB's clients its derived
// allowance, and only inside it: the same failures outside any such step, or more than
// the allowance inside it, break the budget.
func TestMonitorJudgeAllowsAStackedMemberRestartItsBoundOnly(t *testing.T) {
	bound := topology.NewBounds(topology.Default(), topology.DefaultComponentTimings()).StackedMemberLoss()
	allowed := Allowance{Step: "node1: kubeadm upgrade node", From: ms(1000), To: ms(4000), Restarted: "stacked etcd member", Bound: bound}
	within := 20 // 2 s of failures, inside the step (1–4 s), below the default bound
	if bound.Value <= 2*time.Second {
		t.Fatalf("StackedMemberLoss %s: the test needs one above 2 s", bound.Value)
	}
	failures := func(from, n int) []int {
		var out []int
		for i := 0; i < n; i++ {
			out = append(out, from+i)
		}
		return out
	}
	cases := []struct {
		name       string
		failed     []int
		allowances []Allowance
		want       verdict.Verdict
		reason     string
	}{
		{"failures inside the restarting step, within its allowance", failures(12, within), []Allowance{allowed}, verdict.Passed, ""},
		{"the same failures with no step seen restarting a member", failures(12, within), nil, verdict.GuaranteeBroken, "LB new connections: 20 of"},
		{"one failure outside the allowed step", append(failures(12, within), 60), []Allowance{allowed}, verdict.GuaranteeBroken, "LB new connections: 1 of"},
		{"more failures than the allowance inside the step", failures(10, 29), []Allowance{{Step: allowed.Step, From: ms(1000), To: ms(4000), Restarted: allowed.Restarted, Bound: topology.Bound{Value: time.Second, Formula: "test"}}}, verdict.GuaranteeBroken, "step node1: kubeadm upgrade node: LB new connections"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := quietRecording(c.failed...)
			r.Allowances = c.allowances
			j := Judge(r, topology.Default().Disruption, testWriteGap)
			if j.Verdict != c.want || !strings.Contains(j.Reason, c.reason) {
				t.Fatalf("verdict %q (%s), want %q saying %q", j.Verdict, j.Reason, c.want, c.reason)
			}
		})
	}
}

// The Spec's budget is granted once per run: a step with an allowance is held to its
// allowance alone, so failures inside it cannot spend the budget the rest of the run
// already used.
func TestMonitorJudgeGrantsTheSpecBudgetOnce(t *testing.T) {
	budgets := topology.Default().Disruption
	budgets.LBNewConnections = topology.DisruptionBudget{FailedRequests: 5, Seconds: topology.Duration{Duration: time.Minute}}
	zero := Allowance{Step: "node1: kubeadm upgrade node", From: ms(1000), To: ms(4000), Restarted: "stacked etcd member", Bound: topology.Bound{Value: 0, Formula: "test"}}
	outside, inside := []int{60, 62, 64, 66, 68}, []int{12, 14, 16, 18, 20}
	for name, c := range map[string]struct {
		failed []int
		want   verdict.Verdict
	}{
		"the budget spent outside the step":            {outside, verdict.Passed},
		"and as many failures inside a step allowed 0": {append(outside, inside...), verdict.GuaranteeBroken},
	} {
		r := quietRecording(c.failed...)
		r.Allowances = []Allowance{zero}
		if j := Judge(r, budgets, testWriteGap); j.Verdict != c.want {
			t.Errorf("%s: verdict %q (%s), want %q", name, j.Verdict, j.Reason, c.want)
		}
	}
}

// The Lease judge's negative control: a Lease read as held by nobody for longer than
// its takeover bound breaks it; a short handover, and failed reads before it, do not.
func TestMonitorJudgeHoldsEachLeaseToItsTakeoverBound(t *testing.T) {
	bounds := LeaseBounds(topology.Default(), topology.NewBounds(topology.Default(), topology.DefaultComponentTimings()))
	bounds["kube-scheduler"] = topology.Bound{Value: 2500 * time.Millisecond, Formula: "test"} // the recording is 9 s long
	// failed reads right before the stretch held by nobody: counted as "nobody", they
	// would lengthen a 2 s handover to 3 s, beyond the bound
	lease := func(unheldFrom, unheldTo int) []probe.Sample {
		s := samples(90, ms(5))
		for i := range s {
			s[i].Value = "node1 abc"
			if i >= unheldFrom && i < unheldTo {
				s[i].Value = ""
			}
			if i >= unheldFrom-10 && i < unheldFrom {
				s[i].OK, s[i].Value, s[i].Error = false, "", "timeout"
			}
		}
		return s
	}
	bound := bounds["kube-scheduler"].Value
	long := int(bound/ms(100)) + 5
	for name, c := range map[string]struct {
		series []probe.Sample
		want   verdict.Verdict
	}{
		"a handover of 2 s":                        {lease(20, 40), verdict.Passed},
		"held by nobody for longer than the bound": {lease(10, 10+long), verdict.GuaranteeBroken},
	} {
		r := quietRecording()
		r.Timeline.Series[PrefixLease+"kube-scheduler"] = c.series
		r.LeaseBounds = bounds
		j := Judge(r, topology.Default().Disruption, testWriteGap)
		if j.Verdict != c.want || (c.want != verdict.Passed && !strings.Contains(j.Reason, "kube-scheduler Lease was held by nobody")) {
			t.Errorf("%s: verdict %q (%s), want %q", name, j.Verdict, j.Reason, c.want)
		}
	}
}

// The PDB judge's negative control: one sample below a budget breaks the guarantee.
func TestMonitorJudgeCatchesAPDBBroken(t *testing.T) {
	r := quietRecording()
	s := samples(9, ms(5))
	for i := range s {
		s[i].Value = "hachaos-dataplane/hachaos-serve=2/1"
	}
	r.Timeline.Series[SeriesPDB] = s
	if j := Judge(r, topology.Default().Disruption, testWriteGap); j.Verdict != verdict.Passed {
		t.Fatalf("every budget kept: verdict %q (%s)", j.Verdict, j.Reason)
	}
	s[4].OK, s[4].Value, s[4].Error = false, "hachaos-dataplane/hachaos-serve=0/1", PDBViolation+"hachaos-dataplane/hachaos-serve=0/1"
	if j := Judge(r, topology.Default().Disruption, testWriteGap); j.Verdict != verdict.GuaranteeBroken || !strings.Contains(j.Reason, "PodDisruptionBudget was broken in 1 samples") {
		t.Fatalf("one sample below: verdict %q (%s)", j.Verdict, j.Reason)
	}
}
