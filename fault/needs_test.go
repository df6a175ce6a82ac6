package fault

import (
	"reflect"
	"testing"

	"github.com/hachaos/hachaos/topology"
)

// Every fault kind says what it needs of a provider, and says it right: a kind added
// without an entry here fails, so a provider without machines never meets a fault that
// needs one unannounced.
func TestEveryFaultKindNamesWhatItNeeds(t *testing.T) {
	commands := []topology.Capability{topology.CapabilityNodeCommands}
	machines := []topology.Capability{topology.CapabilityNodeMachines}
	want := map[string]map[string][]topology.Capability{ // kind → params "mode" → needs
		KindAPIServerStop:      {"": commands},
		KindAPIServerFreeze:    {"": commands},
		KindCPULimit:           {"": {topology.CapabilityCPULimits}},
		KindEtcdMemberStop:     {"stacked": commands, "external": machines},
		KindEtcdMemberCrash:    {"stacked": commands, "external": machines},
		KindLBCheckPath:        {"": {topology.CapabilityLBConfig}},
		KindLBNoChecks:         {"": {topology.CapabilityLBConfig}},
		KindLBRise:             {"": {topology.CapabilityLBConfig}},
		KindLBServerMaint:      {"": {topology.CapabilityLBConfig}},
		KindPartition:          {"": commands},
		KindProcessKill:        {"": commands},
		KindAnonymousAdmin:     {"": commands},
		KindManifestFlags:      {"": commands},
		KindStaticPodNoRestart: {"": commands},
		KindSeparateEtcd:       {"": commands},
		KindWorkerLoss:         {"": machines},
		KindWorkerDrain:        {"": nil},
	}
	for _, kind := range Kinds() {
		modes, ok := want[kind]
		if !ok {
			t.Errorf("%s: what it needs of a provider is not listed here", kind)
			continue
		}
		for mode, needs := range modes {
			f, err := Rebuild(&fakeTopology{}, Record{Kind: kind, Target: "n", Params: map[string]string{"mode": mode}})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Needs(); !reflect.DeepEqual(got, needs) {
				t.Errorf("%s (mode %q) needs %v, want %v", kind, mode, got, needs)
			}
		}
	}
}

func TestCapabilitiesNameWhatIsMissingAndWhy(t *testing.T) {
	c := topology.Capabilities{Provider: "existing", Lacking: map[topology.Capability]string{
		topology.CapabilityNodeMachines: "the cluster's machines are not hachaos'",
	}}
	if got := c.Missing([]topology.Capability{topology.CapabilityNodeCommands}); got != nil {
		t.Errorf("node commands reported missing: %v", got)
	}
	got := c.Missing([]topology.Capability{topology.CapabilityNodeCommands, topology.CapabilityNodeMachines})
	if want := []string{"node-machines (the cluster's machines are not hachaos')"}; !reflect.DeepEqual(got, want) {
		t.Errorf("missing %q, want %q", got, want)
	}
}
