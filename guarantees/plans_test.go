package guarantees_test

import (
	"slices"
	"testing"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/guarantees"
	"github.com/hachaos/hachaos/topology"
)

// Every planned fault is a fault kind the dry run can describe, with a target rule and
// a hold; no spec is listed twice.
func TestFaultPlansNameDescribableFaults(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range guarantees.FaultPlans {
		if seen[p.Spec] {
			t.Errorf("spec %q has two plans", p.Spec)
		}
		seen[p.Spec] = true
		if len(p.Faults) == 0 {
			t.Errorf("spec %q: a plan without faults (a spec that injects nothing needs none)", p.Spec)
		}
		for _, f := range p.Faults {
			if _, err := fault.Describe(f.Kind, map[string]string{"mode": "stacked"}); err != nil && f.Kind != fault.KindWorkerLoss {
				t.Errorf("spec %q: %v", p.Spec, err)
			}
			if f.Target == "" || f.Hold == "" {
				t.Errorf("spec %q: fault %s without a target rule or a hold", p.Spec, f.Kind)
			}
		}
		for _, c := range p.JudgedOn {
			if !slices.Contains([]topology.Capability{topology.CapabilityNodeCommands, topology.CapabilityNodeMachines, topology.CapabilityCPULimits, topology.CapabilityLBConfig, topology.CapabilityLBStates}, topology.Capability(c)) {
				t.Errorf("spec %q is judged on %q, not a provider capability", p.Spec, c)
			}
		}
		if got, ok := guarantees.PlanOf(p.Spec); !ok || !got.Planned(p.Faults[0].Kind) {
			t.Errorf("PlanOf(%q) does not find its own plan", p.Spec)
		}
	}
	if _, ok := guarantees.PlanOf("no such spec"); ok {
		t.Error("PlanOf found a plan for a spec that has none")
	}
}
