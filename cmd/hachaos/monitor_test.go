package main

import (
	"testing"
	"time"

	"github.com/hachaos/hachaos/rolling"
	"github.com/hachaos/hachaos/topology"
)

// Only a step whose end line says it restarted a stacked etcd member, after a begin
// line of the same name, on stacked etcd, gets an allowance: from its begin to its end.
func TestAllowancesOnlyForStepsSeenRestartingAStackedMember(t *testing.T) {
	start := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	steps := []rolling.Step{
		{At: at(1), Phase: rolling.PhaseBegin, Name: "cp1: kubeadm upgrade apply"},
		{At: at(9), Phase: rolling.PhaseEnd, Name: "cp1: kubeadm upgrade apply", Restarted: []string{rolling.RestartedStackedEtcd}},
		{At: at(10), Phase: rolling.PhaseBegin, Name: "cp1: drain"},
		{At: at(12), Phase: rolling.PhaseEnd, Name: "cp1: drain"},
		{At: at(13), Phase: rolling.PhaseBegin, Name: "cp2: kubelet"},
		{At: at(15), Phase: rolling.PhaseEnd, Name: "cp2: kubelet", Restarted: []string{"kube-apiserver"}},
		{At: at(20), Phase: rolling.PhaseEnd, Name: "cp3: never began", Restarted: []string{rolling.RestartedStackedEtcd}},
	}
	spec := topology.Default()
	b := topology.NewBounds(spec, topology.DefaultComponentTimings())
	got := allowances(steps, start, spec, b)
	if len(got) != 1 || got[0].Step != "cp1: kubeadm upgrade apply" || got[0].From != time.Second || got[0].To != 9*time.Second || got[0].Bound.Value != b.StackedMemberLoss().Value {
		t.Fatalf("stacked: allowances %+v, want cp1's kubeadm step alone, 1 s–9 s, StackedMemberLoss", got)
	}
	spec.Etcd.Mode = topology.EtcdExternal
	if got := allowances(steps, start, spec, b); len(got) != 0 {
		t.Errorf("external etcd: allowances %+v, want none (the API servers list every member)", got)
	}
}
