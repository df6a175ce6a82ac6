package topology

import (
	"testing"
	"time"
)

// The bounds the guarantees are judged by, computed from the profiles' values; the
// expected numbers are the ones the profile comments promise.
func TestBoundFormulas(t *testing.T) {
	fast, _ := Profile(ProfileFast)
	upstream, _ := Profile(ProfileUpstream)
	defaults := NewBounds(Default(), DefaultComponentTimings())
	slow, err := ParseComponentTimings(map[string]string{"n1": "etcd --name n1 --election-timeout=2500", "n2": "etcd --election-timeout 2500"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeadm, err := ParseComponentTimings(map[string]string{
		"n1": "etcd --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.1:2379 --listen-peer-urls=https://10.0.0.1:2380",
		"n2": "etcd --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.2:2379 --listen-peer-urls=https://10.0.0.2:2380"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want time.Duration
	}{
		{"fast lease takeover = 6s + 2×1s×2.2", fast.Scheduler.LeaseTakeoverBound(), 10400 * time.Millisecond},
		{"upstream lease takeover = 15s + 2×2s×2.2", upstream.ControllerManager.LeaseTakeoverBound(), 23800 * time.Millisecond},
		{"etcd election = 2×2×1s", defaults.EtcdElection().Value, 4 * time.Second},
		{"etcd write gap = election + 2s op timeout", defaults.EtcdWriteGap(2 * time.Second).Value, 6 * time.Second},
		{"default LB detection window", defaults.LBDetection().Value, 3250 * time.Millisecond},
		{"default LB rise window", defaults.LBRise().Value, 3 * time.Second},
		{"API server cut off from etcd still ready = 2s/2 + 2s", defaults.APIServerEtcdUnready().Value, 3 * time.Second},
		{"etcd election with --election-timeout=2500", NewBounds(Default(), slow).EtcdElection().Value, 10 * time.Second},
		{"etcd graceful stop, etcd's defaults = (1+1)×(5s+2×1s) + 1×1s", defaults.EtcdGracefulStop().Value, 15 * time.Second},
		{"etcd graceful stop, kubeadm's two client URLs = (2+1)×(5s+2×1s) + 1×1s", NewBounds(Default(), kubeadm).EtcdGracefulStop().Value, 22 * time.Second},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestComponentTimingsComeFromTheCommandLines(t *testing.T) {
	got, err := ParseComponentTimings(
		map[string]string{"a": "etcd --heartbeat-interval=200 --election-timeout=2000", "b": "etcd --heartbeat-interval=200 --election-timeout=2000"},
		map[string]string{"a": "kube-apiserver --etcd-readycheck-timeout=5s"})
	if err != nil {
		t.Fatal(err)
	}
	if got.EtcdElectionTimeout.Value != 2*time.Second || got.EtcdHeartbeatInterval.Value != 200*time.Millisecond || got.APIServerEtcdCheckTimeout.Value != 5*time.Second {
		t.Fatalf("timings %+v", got)
	}
	if got.EtcdElectionTimeout.Source != "etcd --election-timeout on a, b" {
		t.Fatalf("source %q", got.EtcdElectionTimeout.Source)
	}
	unset, err := ParseComponentTimings(map[string]string{"a": "etcd --name a"}, map[string]string{"a": "kube-apiserver"})
	if err != nil || unset != DefaultComponentTimings() {
		t.Fatalf("without flags: %+v, %v; want the defaults", unset, err)
	}
	if _, err := ParseComponentTimings(map[string]string{"a": "etcd --election-timeout=1000", "b": "etcd --election-timeout=3000"}, nil); err == nil {
		t.Fatal("members with different election timeouts were accepted")
	}
	if _, err := ParseComponentTimings(map[string]string{"a": "etcd --listen-client-urls=https://a:2379", "b": "etcd --listen-client-urls=https://b:2379,https://127.0.0.1:2379"}, nil); err == nil {
		t.Fatal("members listening on different numbers of client URLs were accepted")
	}
	if _, err := ParseComponentTimings(map[string]string{"a": "etcd --election-timeout=soon"}, nil); err == nil {
		t.Fatal("an unreadable election timeout was accepted")
	}
}
