package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Entry is one injected fault that has not been recovered yet.
type Entry struct {
	ID         string    `json:"id"`
	Record     Record    `json:"record"`
	InjectedAt time.Time `json:"injectedAt"`
}

// Ledger is the on-disk list of faults injected and not yet recovered, one file per
// cluster. It is written before a fault is injected and after it is recovered, with a
// rename so a crash never leaves half a file. One harness process per cluster at a time.
type Ledger struct {
	path string
	mu   sync.Mutex
	next int
}

// OpenLedger uses the ledger file at path (created on first write).
func OpenLedger(path string) *Ledger { return &Ledger{path: path} }

// Entries lists what the ledger holds.
func (l *Ledger) Entries() ([]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read()
}

func (l *Ledger) read() ([]Entry, error) {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read fault ledger: %w", err)
	}
	var entries []Entry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("fault ledger %s is corrupt: %w", l.path, err)
	}
	return entries, nil
}

func (l *Ledger) write(entries []Entry) error {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return fmt.Errorf("create ledger folder: %w", err)
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write fault ledger: %w", err)
	}
	return os.Rename(tmp, l.path)
}

// add records r before it is injected and returns its entry ID.
func (l *Ledger) add(r Record) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	entries, err := l.read()
	if err != nil {
		return "", err
	}
	l.next++
	id := fmt.Sprintf("%d-%d", time.Now().UnixNano(), l.next)
	entries = append(entries, Entry{ID: id, Record: r, InjectedAt: time.Now()})
	return id, l.write(entries)
}

// remove drops the entry once its fault is recovered.
func (l *Ledger) remove(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	entries, err := l.read()
	if err != nil {
		return err
	}
	entries = slices.DeleteFunc(entries, func(e Entry) bool { return e.ID == id })
	return l.write(entries)
}

// Injector injects faults through the ledger.
type Injector struct {
	ledger *Ledger
	nodes  Topology
	// disabled lists the fault kinds whose Inject does nothing (make chaos-selfcheck):
	// every spec that uses one must end "fault not in effect".
	disabled map[string]bool
}

// DisableEffects makes Inject of the named kinds (AllKinds for every kind) a no-op
// that only records the fault: the self-check proves that each spec notices.
func (in *Injector) DisableEffects(kinds []string) {
	in.disabled = map[string]bool{}
	for _, k := range kinds {
		in.disabled[k] = true
	}
}

// AllKinds in DisableEffects stands for every fault kind.
const AllKinds = "all"

func (in *Injector) effectDisabled(kind string) bool {
	return in.disabled[kind] || in.disabled[AllKinds]
}

// NewInjector injects into nodes, recording in ledger.
func NewInjector(ledger *Ledger, nodes Topology) *Injector {
	return &Injector{ledger: ledger, nodes: nodes}
}

// Injected is a fault that Inject has recorded; Recover undoes it and clears the record.
type Injected struct {
	fault    Fault
	id       string
	injector *Injector
}

// Prepare records f in the ledger and returns it ready to inject. Register its Recover
// (DeferCleanup) before calling Inject, so a failing or interrupted spec still recovers:
// the Kubernetes e2e framework's "defer Unblock; Block" pattern.
func (in *Injector) Prepare(f Fault) (*Injected, error) {
	id, err := in.ledger.add(f.Record())
	if err != nil {
		return nil, fmt.Errorf("record %s before injecting: %w", f.Record(), err)
	}
	return &Injected{fault: f, id: id, injector: in}, nil
}

// Inject breaks the topology (unless DisableEffects named its kind).
func (i *Injected) Inject(ctx context.Context) error {
	if i.injector.effectDisabled(i.fault.Record().Kind) {
		return nil // the self-check: the fault is recorded and "injected", and does nothing
	}
	if err := i.fault.Inject(ctx); err != nil {
		return fmt.Errorf("inject %s: %w", i.fault.Record(), err)
	}
	return nil
}

// Recover undoes the fault and clears its ledger entry. Calling it again is harmless.
func (i *Injected) Recover(ctx context.Context) error {
	if i == nil {
		return nil
	}
	if err := i.fault.Recover(ctx); err != nil {
		return fmt.Errorf("recover %s: %w", i.fault.Record(), err)
	}
	return i.injector.ledger.remove(i.id)
}

// RecoverLeftovers recovers every fault a previous run left in the ledger (it crashed,
// was killed, or lost its connection) and clears them. Runs start with it.
func (in *Injector) RecoverLeftovers(ctx context.Context) ([]Record, error) {
	entries, err := in.ledger.Entries()
	if err != nil {
		return nil, err
	}
	var recovered []Record
	var errs []error
	for _, e := range entries {
		f, err := Rebuild(in.nodes, e.Record)
		if err == nil {
			err = (&Injected{fault: f, id: e.ID, injector: in}).Recover(ctx)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recovered = append(recovered, e.Record)
	}
	return recovered, errors.Join(errs...)
}
