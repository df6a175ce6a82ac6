package main

import (
	"strings"
	"testing"

	"github.com/hachaos/hachaos/guarantees"
	"github.com/hachaos/hachaos/topology"
)

func TestDryRunNamesTheNodesARuleSelectsNowAndTheRuleWhenUnread(t *testing.T) {
	r := targetResolver{
		controlPlanes: []string{"cp1", "cp2", "cp3"}, workers: []string{"w1", "w2"}, etcd: []string{"e1", "e2", "e3"},
		leases: map[string]string{"kube-scheduler": "cp2"},
	}
	for target, want := range map[guarantees.Target]string{
		guarantees.TargetLastControlPlane:      "cp3 (",
		guarantees.TargetControlPlanesButFirst: "cp2, cp3 (",
		guarantees.TargetFirstWorker:           "w1 (",
		guarantees.TargetLastEtcdMember:        "e3 (",
		guarantees.TargetSchedulerLeaseHolder:  "cp2 (",
		guarantees.TargetControllerLeaseHolder: "(not read)",
		guarantees.TargetEtcdLeader:            "read from etcd when the spec starts",
	} {
		if got := r.resolve(target); !strings.Contains(got, want) {
			t.Errorf("resolve(%s) = %q, want it to contain %q", target, got, want)
		}
	}
	if got := (targetResolver{}).resolve(guarantees.TargetFirstWorker); !strings.Contains(got, "(not read)") {
		t.Errorf("with no nodes read, resolve = %q, want the rule marked not read", got)
	}
}

// The reports name who made the cluster: a kind cluster by its node image, one hachaos
// did not create by the node agent the run started in it.
func TestReportsNameTheProviderAndTheAgent(t *testing.T) {
	spec := topology.Default()
	if got := topologyOf(spec); got.Provider != topology.ProviderKind || got.NodeImage == "" || got.AgentImage != "" {
		t.Errorf("kind Spec: %+v", got)
	}
	spec.Provider, spec.Agent.Image = topology.ProviderExisting, "mirror.example/hachaos-agent:v1"
	got := topologyOf(spec)
	if got.Provider != topology.ProviderExisting || got.NodeImage != "" || got.AgentImage != spec.Agent.Image || got.AgentNamespace != "hachaos-agent" {
		t.Errorf("existing Spec: %+v", got)
	}
	if d := got.Describe(); !strings.Contains(d, "did not create") || !strings.Contains(d, spec.Agent.Image) {
		t.Errorf("Describe() = %q: the report must say hachaos did not create it and name the agent", d)
	}
}
