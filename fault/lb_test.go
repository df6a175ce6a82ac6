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

// Taking a server out of rotation and back is one runtime command each, on the API
// servers' backend; HAProxy's text answer (a refusal) fails it; the stats tell whether
// it is in effect; and the ledger record rebuilds it.
func TestLBServerMaintThroughTheRuntimeAPI(t *testing.T) {
	tp := &fakeTopology{}
	f, err := NewLBServerMaint(tp, "lb", "cp2")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tp.commands, "\n"); !strings.Contains(got, "set server kube-apiservers/cp2 state maint") || !strings.Contains(got, "set server kube-apiservers/cp2 state ready") {
		t.Errorf("commands:\n%s", got)
	}
	tp.outputs = map[string]string{"state maint": "Permission denied\n"}
	if err := f.Inject(context.Background()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a refused command: %v", err)
	}
	stat := "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n" +
		"kube-apiservers,cp1,0,0,0,0,,1,0,0,,0,,0,0,0,0,UP\n" +
		"kube-apiservers,cp2,0,0,0,0,,1,0,0,,0,,0,0,0,0,%s\n"
	tp.outputs = map[string]string{"show stat": strings.ReplaceAll(stat, "%s", "MAINT")}
	if err := f.InEffect(context.Background(), time.Time{}); err != nil {
		t.Errorf("MAINT not seen: %v", err)
	}
	tp.outputs = map[string]string{"show stat": strings.ReplaceAll(stat, "%s", "UP")}
	if err := f.InEffect(context.Background(), time.Time{}); err == nil {
		t.Error("a server UP counted as out of rotation")
	}
	// an Inject HAProxy refused left the server in rotation: Recover has nothing to undo,
	// so its ledger entry clears (a socket without admin level would refuse "ready" too)
	tp.commands = nil
	if err := f.Recover(context.Background()); err != nil || strings.Contains(strings.Join(tp.commands, "\n"), "state ready") {
		t.Errorf("Recover of a server in rotation: %v, commands %v", err, tp.commands)
	}
	rebuilt := registry[KindLBServerMaint](tp, f.Record()).(LBServerMaint)
	if rebuilt.LB != "lb" || rebuilt.Server != "cp2" {
		t.Errorf("rebuilt %+v from %+v", rebuilt, f.Record())
	}
	for _, bad := range []string{"cp2; reboot", "cp2\nshutdown sessions server kube-apiservers/cp1", ""} {
		if _, err := NewLBServerMaint(tp, "lb", bad); err == nil {
			t.Errorf("server name %q accepted", bad)
		}
	}
	// rebuilt from a ledger record, the name is checked before any command
	forged := registry[KindLBServerMaint](tp, Record{Kind: KindLBServerMaint, Target: "lb", Params: map[string]string{"server": "cp2\nx"}})
	if err := forged.Inject(context.Background()); err == nil {
		t.Error("a forged record's server name reached the runtime API")
	}
}
