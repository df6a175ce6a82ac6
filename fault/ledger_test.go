package fault

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestLedgerHoldsAFaultFromBeforeInjectUntilRecovered(t *testing.T) {
	nodes := &fakeTopology{}
	ledger := OpenLedger(filepath.Join(t.TempDir(), "ledger.json"))
	in := NewInjector(ledger, nodes)
	injected, err := in.Prepare(NewAPIServerStop(nodes, "cp2"))
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := ledger.Entries(); len(entries) != 1 || len(nodes.commands) != 0 {
		t.Fatalf("after Prepare: %d entries, %d commands; want the record before any command", len(entries), len(nodes.commands))
	}
	if err := injected.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := injected.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := injected.Recover(context.Background()); err != nil {
		t.Fatalf("second Recover: %v (must be idempotent)", err)
	}
	if entries, _ := ledger.Entries(); len(entries) != 0 {
		t.Fatalf("ledger still holds %v after Recover", entries)
	}
}

func TestRecoverLeftoversUndoesWhatACrashedRunLeft(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.json")
	crashed := &fakeTopology{}
	in := NewInjector(OpenLedger(path), crashed)
	for _, f := range []Fault{NewAPIServerStop(crashed, "cp1"), NewAPIServerFreeze(crashed, "cp3")} {
		injected, err := in.Prepare(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := injected.Inject(context.Background()); err != nil {
			t.Fatal(err)
		}
	} // the run dies here: no Recover

	next := &fakeTopology{}
	recovered, err := NewInjector(OpenLedger(path), next).RecoverLeftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recovered) != 2 || !strings.Contains(strings.Join(next.commands, "\n"), "cp3: sh -c pkill -CONT") {
		t.Fatalf("recovered %v with commands %q", recovered, next.commands)
	}
	if entries, _ := OpenLedger(path).Entries(); len(entries) != 0 {
		t.Fatalf("ledger not cleared: %v", entries)
	}
}

func TestAFailedRecoverStaysInTheLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.json")
	nodes := &fakeTopology{}
	in := NewInjector(OpenLedger(path), nodes)
	injected, _ := in.Prepare(NewAPIServerStop(nodes, "cp1"))
	nodes.fail = true
	if err := injected.Recover(context.Background()); err == nil {
		t.Fatal("want the exec failure")
	}
	if entries, _ := OpenLedger(path).Entries(); len(entries) != 1 {
		t.Fatalf("a fault that could not be recovered must stay recorded; ledger: %v", entries)
	}
	if _, err := Rebuild(nodes, Record{Kind: "no-such-fault"}); err == nil {
		t.Fatal("want an error for an unknown kind")
	}
}
