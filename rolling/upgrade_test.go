package rolling

import (
	"context"
	"strings"
	"testing"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

func TestUpgradeGoesOneMinorForwardOnly(t *testing.T) {
	spec := topology.Default()
	spec.Kubernetes.Version = "v1.36.3"
	in := Input{Spec: spec}
	for to, want := range map[string]string{
		"v1.37.2": "",
		"v1.36.5": "",
		"v1.38.0": "one minor version at a time",
		"v1.36.1": "forward only",
		"1.37":    "is not a Kubernetes version",
	} {
		err := in.checkUpgrade(context.Background(), to)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("to %s: err %v, want %q", to, err, want)
		}
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	if got := tail("a\nb\nc\nd\n", 2); got != "c\nd" {
		t.Errorf("tail = %q", got)
	}
}

func TestExternalEtcdIsUpgradedOneMinorForwardOnly(t *testing.T) {
	for _, c := range []struct {
		running, target string
		want            bool
		err             string
	}{
		{"3.6.8", "3.7.0", true, ""},
		{"3.7.0", "3.7.0", false, ""},
		{"3.7.0", "3.6.8", false, ""}, // never a downgrade
		{"3.6.8", "3.6.9", true, ""},
		{"3.5.21", "3.7.0", false, "one minor version at a time"},
		{"v3", "3.7.0", false, "not a version"},
	} {
		got, err := etcdUpgradeNeeded(c.running, c.target)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s → %s: %v, %v; want %v, %q", c.running, c.target, got, err, c.want, c.err)
		}
	}
}

// noNodes is a provider whose topology has no node: nothing is up.
type noNodes struct{ cluster.Provider }

func (noNodes) Nodes(context.Context, topology.Role) ([]topology.Node, error) { return nil, nil }

// A rolling operation on a topology with no control plane fails: it found nothing to
// roll, which is not a success.
func TestRollingOperationsRefuseATopologyWithNoControlPlane(t *testing.T) {
	in := Input{Spec: topology.Default(), Provider: noNodes{}, Progress: func(string, ...any) {}, Steps: &Steps{}}
	if err := RestartControlPlane(context.Background(), in, nil); err == nil || !strings.Contains(err.Error(), "no control-plane node") {
		t.Errorf("RestartControlPlane: %v, want 'no control-plane node'", err)
	}
}
