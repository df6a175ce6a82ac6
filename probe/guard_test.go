package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestProberSendsOnlyToLoopbackAndTheTopology(t *testing.T) {
	p := NewProber("172.29.0.3")
	for _, ok := range []string{"https://127.0.0.1:34565/readyz", "172.29.0.3:10250", "http://localhost:8080", "[::1]:6443"} {
		if err := p.Check(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://10.0.0.1:6443/", "172.29.0.4:2379", "http://example.com/"} {
		if err := p.Check(bad); !errors.Is(err, ErrNotInTopology) {
			t.Errorf("%s: %v, want ErrNotInTopology (a harness error, never a finding)", bad, err)
		}
	}
	a := p.Get(context.Background(), "http://192.0.2.1/health", "plaintext HTTP", nil)
	if !strings.Contains(a.Error, "refusing to probe") || a.Served() {
		t.Errorf("outside target was not refused before sending: %+v", a)
	}
}
