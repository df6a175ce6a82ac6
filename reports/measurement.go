package reports

import (
	"fmt"
	"math"
	"strconv"

	"github.com/hachaos/hachaos/topology"
)

// Measurement is one measured value of a guarantee against its bound. Suites attach it to
// their spec as a Ginkgo report entry named "measured: <Name>"; Ginkgo keeps it as JSON,
// from which the reports are built, so a value is never parsed back out of prose.
type Measurement struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Bound float64 `json:"bound"`
	// AtLeast marks a lower bound (value ≥ bound, e.g. Ready replicas during a drain);
	// otherwise the bound is an upper one (value ≤ bound, e.g. a recovery time).
	AtLeast bool `json:"atLeast,omitempty"`
	// Formula says where the bound comes from, e.g. "lease 6 s + 2 × retry 1 s × 2.2".
	Formula string `json:"formula,omitempty"`
	// Inputs are the formula's inputs with where each was read (the Spec, a running
	// component's flag, a default).
	Inputs []topology.BoundInput `json:"inputs,omitempty"`
	// Unbounded marks a value measured without a pass/fail bound: no derivation exists
	// (a stacked etcd member's restart waits on kubelet housekeeping). Formula says why;
	// comparisons still hold its p95 to the regression budget.
	Unbounded bool `json:"unbounded,omitempty"`
	// HistorySpread (in Unit) is how much the value may vary by what the run before it
	// did, not by the version under test: a delay between 0 and HistorySpread that a
	// component adds or not depending on its history — the kubelet restarts a crashed
	// container at once, unless an earlier restart of it within 10 minutes left it in
	// crash-loop back-off (up to timeouts.maxContainerRestartPeriod). A comparison counts
	// it as the baseline's spread: wider than the budget allows, the value is "too noisy
	// to judge" (on the upgraded cluster every member had just been restarted).
	HistorySpread float64 `json:"historySpread,omitempty"`
}

// MeasurementEntryPrefix starts the name of every report entry that carries a Measurement.
const MeasurementEntryPrefix = "measured: "

// Within reports whether the value keeps its bound.
func (m Measurement) Within() bool {
	if m.Unbounded {
		return true
	}
	if m.AtLeast {
		return m.Value >= m.Bound
	}
	return m.Value <= m.Bound
}

// Margin is how far the value stays inside its bound, as a fraction of the bound:
// 0.25 means a quarter of the bound to spare, a negative margin a broken bound.
func (m Measurement) Margin() float64 {
	if m.Bound == 0 || m.Unbounded {
		return 0
	}
	if m.AtLeast {
		return (m.Value - m.Bound) / m.Bound
	}
	return (m.Bound - m.Value) / m.Bound
}

// IsTime reports whether the value is a duration in seconds: those are what trials
// summarize into percentiles and what certification compares.
func (m Measurement) IsTime() bool { return m.Unit == "s" }

// BoundText is the bound as people read it: "≤ 4 s", "≥ 3 Pods".
func (m Measurement) BoundText() string {
	if m.Unbounded {
		return "none (measured)"
	}
	op := "≤"
	if m.AtLeast {
		op = "≥"
	}
	return fmt.Sprintf("%s %s %s", op, num(m.Bound), m.Unit)
}

// String is the entry's text in Ginkgo's own output: "1.5 s (bound ≤ 4 s)".
func (m Measurement) String() string {
	return fmt.Sprintf("%s %s (bound %s)", num(m.Value), m.Unit, m.BoundText())
}

// num prints a value with three significant digits, as measured times warrant, and
// never in exponent notation.
func num(v float64) string {
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
