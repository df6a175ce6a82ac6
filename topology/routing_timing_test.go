package topology

import (
	"strings"
	"testing"
	"time"
)

func TestParseRoutingTimings(t *testing.T) {
	managers := map[string]string{"cp1": "kube-controller-manager --node-monitor-period=2s", "cp2": "kube-controller-manager"}
	for _, tc := range []struct {
		name, config string
		managers     map[string]string
		batch, sync  time.Duration
		syncSource   string
		err          string
	}{
		{name: "kubeadm's config: unset is the default", config: "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nmode: \"\"\niptables:\n  minSyncPeriod: 0s\n", managers: managers, sync: time.Second, syncSource: "default"},
		{name: "iptables set", config: "mode: iptables\niptables:\n  minSyncPeriod: 3s\n", managers: managers, sync: 3 * time.Second, syncSource: "iptables.minSyncPeriod"},
		{name: "nftables set", config: "mode: nftables\niptables:\n  minSyncPeriod: 3s\nnftables:\n  minSyncPeriod: 2s\n", managers: managers, sync: 2 * time.Second, syncSource: "nftables.minSyncPeriod"},
		{name: "batch period on every manager", config: "", managers: map[string]string{"cp1": "x --endpointslice-updates-batch-period=500ms", "cp2": "x --endpointslice-updates-batch-period=500ms"}, batch: 500 * time.Millisecond, sync: time.Second, syncSource: "default"},
		{name: "managers disagree", config: "", managers: map[string]string{"cp1": "x --endpointslice-updates-batch-period=500ms", "cp2": "x"}, err: "disagree"},
		{name: "ipvs has no known sync", config: "mode: ipvs\n", managers: managers, err: `mode "ipvs"`},
		{name: "bad duration", config: "iptables:\n  minSyncPeriod: soon\n", managers: managers, err: "not a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRoutingTimings(tc.managers, tc.config)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.EndpointSliceBatchPeriod.Value != tc.batch || got.KubeProxyMinSyncPeriod.Value != tc.sync || !strings.Contains(got.KubeProxyMinSyncPeriod.Source, tc.syncSource) {
				t.Errorf("got %+v, want batch %s, sync %s from %q", got, tc.batch, tc.sync, tc.syncSource)
			}
		})
	}
}

func TestWorkerLossRoutingBound(t *testing.T) {
	spec := Default()
	b := NewBounds(spec, DefaultComponentTimings()).WorkerLossRouting(DefaultRoutingTimings(), 2*time.Second)
	tm := spec.ResolvedTimeouts()
	if want := tm.NodeMonitorGracePeriod.Duration + tm.NodeMonitorPeriod.Duration + time.Second + 2*time.Second; b.Value != want {
		t.Errorf("bound %s, want grace + monitor period + 1s + 2s = %s", b.Value, want)
	}
	if len(b.Inputs) != 5 {
		t.Errorf("inputs %v: want the five the formula names", b.Inputs)
	}
}
