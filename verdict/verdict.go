// Package verdict names how a spec ended. Every spec ends in exactly one of five
// verdicts, and they are kept apart because they mean different things to a platform
// team: only GuaranteeBroken and DidNotRecover say the cluster broke an HA promise;
// FaultNotInEffect and EnvironmentNotReady say the run proves nothing either way.
// Suites attach a spec's verdict as a Ginkgo report entry; reports, JUnit, the summary
// and comparisons read it from there. It imports nothing of hachaos: every layer may
// use it.
package verdict

import (
	"fmt"
	"slices"
)

// Verdict is how one spec (or one trial of it) ended.
type Verdict string

// The five verdicts, and Skipped for a spec that did not run.
const (
	Passed = Verdict("passed")
	// GuaranteeBroken: the fault was in effect for its whole hold and a guarantee did
	// not hold.
	GuaranteeBroken = Verdict("guarantee broken")
	// FaultNotInEffect: the fault did not take effect within its bound after Inject, or
	// not for the whole hold; nothing was judged.
	FaultNotInEffect = Verdict("fault not in effect")
	// EnvironmentNotReady: the gate before the fault failed, or the harness itself
	// failed before the fault; nothing was judged.
	EnvironmentNotReady = Verdict("environment not ready")
	// DidNotRecover: the cluster was not healthy again within its bound after Recover.
	// A broken HA promise of its own, judged after the guarantees so it hides none.
	DidNotRecover = Verdict("did not recover")
	// Skipped: the spec did not run (filtered out, or not applicable to the topology).
	Skipped = Verdict("skipped")
)

// All lists the verdicts in the order reports show them.
var All = []Verdict{Passed, GuaranteeBroken, DidNotRecover, FaultNotInEffect, EnvironmentNotReady, Skipped}

// EntryName is the Ginkgo report entry that carries the verdict a failure at that point
// of a spec stands for (the last one attached wins); a failed spec without one broke
// its guarantee.
const EntryName = "verdict"

// Parse reads a verdict's name, refusing anything that is not one.
func Parse(s string) (Verdict, error) {
	v := Verdict(s)
	if !slices.Contains(All, v) {
		return "", fmt.Errorf("verdict %q is not one of %v", s, All)
	}
	return v, nil
}

// Broken reports whether the verdict says the cluster broke an HA promise.
func (v Verdict) Broken() bool { return v == GuaranteeBroken || v == DidNotRecover }

// Inconclusive reports whether the run proves nothing about the guarantee: the fault
// was not in effect, or the environment was not ready. JUnit reports these as errors,
// broken promises as failures.
func (v Verdict) Inconclusive() bool { return v == FaultNotInEffect || v == EnvironmentNotReady }

// Failed reports whether the verdict is neither passed nor skipped.
func (v Verdict) Failed() bool { return v != Passed && v != Skipped }

// Combine is the verdict of several trials of one spec: a broken promise in any trial
// outweighs everything, then an inconclusive trial, then a pass; all skipped is skipped.
func Combine(trials ...Verdict) Verdict {
	rank := func(v Verdict) int {
		switch v {
		case GuaranteeBroken:
			return 5
		case DidNotRecover:
			return 4
		case FaultNotInEffect:
			return 3
		case EnvironmentNotReady:
			return 2
		case Passed:
			return 1
		}
		return 0
	}
	out := Skipped
	for _, v := range trials {
		if rank(v) > rank(out) {
			out = v
		}
	}
	return out
}
