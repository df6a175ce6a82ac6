package suites

import (
	"strings"
	"testing"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/topology"
)

// A fault the provider cannot inject skips its spec with the provider, the fault and
// the missing capability with its reason; kind can inject every fault.
func TestAFaultTheProviderCannotInjectSaysWhy(t *testing.T) {
	loss, err := fault.NewWorkerLoss(nil, "worker2", fault.WorkerLossPause)
	if err != nil {
		t.Fatal(err)
	}
	existing := topology.Capabilities{Provider: "existing", Lacking: map[topology.Capability]string{
		topology.CapabilityNodeMachines: "its machines are not hachaos' to pause",
	}}
	why := cannotInject(existing, loss)
	for _, want := range []string{"not applicable", "the existing provider cannot inject worker-loss", "node-machines (its machines are not hachaos' to pause)"} {
		if !strings.Contains(why, want) {
			t.Errorf("reason %q lacks %q", why, want)
		}
	}
	if why := cannotInject(topology.Capabilities{Provider: "kind"}, loss); why != "" {
		t.Errorf("kind cannot inject a worker loss: %s", why)
	}
}
