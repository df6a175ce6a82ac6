package main

import (
	"strings"
	"testing"

	"github.com/hachaos/hachaos/guarantees"
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
