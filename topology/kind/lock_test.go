package kind

import (
	"strings"
	"testing"

	"github.com/hachaos/hachaos/topology"
)

// A second run on the same topology is refused while the first holds the lock, and
// admitted once it lets go.
func TestLockAdmitsOneRunAtATime(t *testing.T) {
	spec := topology.Default()
	p := &Provider{spec: spec, stateDir: t.TempDir()}
	unlock, err := p.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Lock(); err == nil || !strings.Contains(err.Error(), "another hachaos run") {
		t.Fatalf("second Lock while held: %v, want a refusal naming the other run", err)
	}
	unlock()
	again, err := p.Lock()
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}
