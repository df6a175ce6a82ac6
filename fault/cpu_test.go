package fault

import (
	"context"
	"slices"
	"testing"
)

func TestCPULimitCapsUntilRecoverAndRebuildsFromItsRecord(t *testing.T) {
	topo := &fakeTopology{}
	f, err := NewCPULimit(topo, "cp1", 0.6)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := Rebuild(topo, f.Record())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := rebuilt.Recover(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"cpus 0.6 cp1", "cpus 0 cp1", "cpus 0 cp1"}; !slices.Equal(topo.actions, want) {
		t.Fatalf("actions %q, want %q", topo.actions, want)
	}
	for _, bad := range []float64{0, -1} {
		if _, err := NewCPULimit(topo, "cp1", bad); err == nil {
			t.Errorf("a limit of %g cores must be refused", bad)
		}
	}
}
