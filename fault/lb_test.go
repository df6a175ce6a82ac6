package fault

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A reloaded HAProxy worker is told by its start tick against the kernel uptime the edit
// read right before the reload, on the LB's own clock; no command latency enters.
func TestLBSabotageInEffectByTheReloadsKernelTick(t *testing.T) {
	cases := []struct {
		name, newest string
		want         string // "" in effect
	}{
		{"the worker started after the reload", "77 123460 1300.00", ""},
		{"started in the reload's tick", "77 123456 1300.00", ""},
		{"the worker from before the edit", "12 100000 1300.00", "started at tick 100000, before the change at tick 123456"},
	}
	for _, c := range cases {
		tp := &fakeTopology{outputs: map[string]string{"kill -USR2 1": "1234.56\n"}}
		f, err := NewLBNoChecks(tp, "lb")
		if err != nil {
			t.Fatal(err)
		}
		copied := f
		if err := f.Inject(context.Background()); err != nil {
			t.Fatal(err)
		}
		tp.outputs = map[string]string{"pgrep -n": c.newest}
		err = copied.InEffect(context.Background(), time.Now().Add(-time.Hour))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	tp := &fakeTopology{}
	f, _ := NewLBCheckPath(tp, "lb", "/healthz")
	if err := f.Inject(context.Background()); err == nil || !strings.Contains(err.Error(), "printed no uptime") {
		t.Errorf("an edit that printed no uptime: %v", err)
	}
}

// The rise sabotage is rebuilt from its ledger record with its count (a killed run's
// next start recovers it), and a rise below one check is refused.
func TestLBRiseRebuiltFromItsRecord(t *testing.T) {
	tp := &fakeTopology{}
	f, err := NewLBRise(tp, "lb", 26)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := registry[KindLBRise](tp, f.Record()).(LBRise)
	if rebuilt.LB != "lb" || rebuilt.Rise != 26 {
		t.Errorf("rebuilt %+v from %+v", rebuilt, f.Record())
	}
	if _, err := NewLBRise(tp, "lb", 0); err == nil {
		t.Error("a rise of 0 was accepted")
	}
}
