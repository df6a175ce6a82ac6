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
	tests := []struct {
		name      string
		got, want time.Duration
	}{
		{"fast lease takeover = 6s + 2×1s×2.2", fast.Scheduler.LeaseTakeoverBound(), 10400 * time.Millisecond},
		{"upstream lease takeover = 15s + 2×2s×2.2", upstream.ControllerManager.LeaseTakeoverBound(), 23800 * time.Millisecond},
		{"etcd election = 2×2×1s", EtcdElectionBound(), 4 * time.Second},
		{"etcd write gap = election + 2s op timeout", EtcdWriteGapBound(2 * time.Second), 6 * time.Second},
		{"default LB detection window", Default().LoadBalancer.DetectionWindow(), 3250 * time.Millisecond},
		{"API server cut off from etcd still ready = 2s/2 + 2s", APIServerEtcdUnreadyBound(), 3 * time.Second},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}
