package monitor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
)

// Disruption is what one backend's clients saw between two instants: how many of
// their requests failed and for how long requests were failing.
type Disruption struct {
	Backend  string // "LB new connections", "API server <node>", "etcd writes"
	Requests int    // requests sent in the window
	Failed   int
	// Seconds is how long requests were failing: the union of the failed requests'
	// intervals, each from when it was sent until its failed answer (at least one
	// cadence: a request refused at once stands for the cadence until the next).
	Seconds time.Duration
	Budget  topology.DisruptionBudget
	// Cut counts the failed requests that were in flight to a server when HAProxy marked
	// it DOWN (cutMarkDowns); CutAllowed says they are not held against the budget.
	Cut        int
	CutAllowed bool
	// Window names the part of the run judged when it is not the whole of it (a step
	// with an allowance: "step cp2: kubeadm upgrade node").
	Window string
	// BudgetFrom says where Budget comes from when it is not the Spec's alone (a step's
	// allowance, with its formula); empty: "Spec disruption budget".
	BudgetFrom string
}

// budgetText is where the budget comes from, for the measurements.
func (d Disruption) budgetText() string {
	if d.BudgetFrom != "" {
		return d.BudgetFrom
	}
	return "Spec disruption budget"
}

// Broken says whether the disruption exceeds its budget.
func (d Disruption) Broken() bool {
	failed := d.Failed
	if d.CutAllowed {
		failed -= d.Cut
	}
	return !d.Budget.RecordOnly && (failed > d.Budget.FailedRequests || (failed > 0 && d.Seconds > d.Budget.Seconds.Duration))
}

// Measurements are the disruption as report measurements: failed requests and seconds
// failing, each against its budget (unbounded when the budget only records).
// Requests HAProxy cut as it marked their server DOWN, where the Spec allows that, are
// counted apart — as Broken does — so no value reads "bound broken" beside a passed
// verdict (a rolling restart here: 1 cut request shown against a budget of 0, passed).
func (d Disruption) Measurements(what string) []reports.Measurement {
	name := what + ": " + d.Backend
	failed, seconds, apart := d.Failed, d.Seconds, ""
	if d.CutAllowed && d.Cut > 0 {
		failed -= d.Cut
		apart = fmt.Sprintf("; %d more cut by the LB as it marked their server DOWN, allowed by loadBalancer.shutdownSessionsOnDown", d.Cut)
		if failed == 0 {
			seconds = 0 // every failure was a cut one: Broken holds no seconds against the budget either
			apart += fmt.Sprintf(", failing %.2f s", d.Seconds.Seconds())
		}
	}
	count := reports.Measurement{Name: name + ": failed requests", Value: float64(failed), Unit: "requests",
		Bound: float64(d.Budget.FailedRequests), Formula: fmt.Sprintf("%s (%d requests sent%s)", d.budgetText(), d.Requests, apart)}
	secs := reports.Measurement{Name: name + ": seconds failing", Value: seconds.Seconds(), Unit: "s",
		Bound: d.Budget.Seconds.Seconds(), Formula: d.budgetText() + apart}
	if d.Budget.RecordOnly {
		count.Unbounded, secs.Unbounded = true, true
		count.Formula, secs.Formula = fmt.Sprintf("recorded only (Spec disruption budget; %d requests sent)", d.Requests), "recorded only (Spec disruption budget)"
	}
	return []reports.Measurement{count, secs}
}

func (d Disruption) String() string {
	cut := ""
	if d.Cut > 0 {
		cut = fmt.Sprintf(" (%d cut by the LB as it marked their server DOWN)", d.Cut)
	}
	where := ""
	if d.Window != "" {
		where = d.Window + ": "
	}
	return fmt.Sprintf("%s%s: %d of %d requests failed%s, failing for %.2f s (budget %s)", where, d.Backend, d.Failed, d.Requests, cut, d.Seconds.Seconds(), d.Budget)
}

// JudgeDisruption measures every backend of the standard observation between from and
// to against the Spec's budgets: requests through the LB (new and kept-alive
// connections), each API server directly, and the etcd traffic's writes (when the
// history holds any). Broken lists what exceeded its budget.
func JudgeDisruption(tl probe.Timeline, h probe.KVHistory, budgets topology.DisruptionSpec, from, to time.Duration) (all, broken []Disruption) {
	return judgeDisruptionOutside(tl, h, budgets, from, to, nil)
}

// judgeDisruptionOutside is JudgeDisruption on the requests sent in [from, to) but in
// none of the skipped windows (steps judged against an allowance of their own).
func judgeDisruptionOutside(tl probe.Timeline, h probe.KVHistory, budgets topology.DisruptionSpec, from, to time.Duration, skip []span) (all, broken []Disruption) {
	markDowns := markDownWindows(tl)
	for _, lb := range []struct {
		series, backend string
		budget          topology.DisruptionBudget
	}{{SeriesLB, "LB new connections", budgets.LBNewConnections}, {SeriesLBKeepAlive, "LB kept-alive connection", budgets.LBKeptAlive}} {
		d := seriesDisruption(tl, lb.series, lb.backend, SampleEvery, from, to, skip, lb.budget)
		d.Cut, d.CutAllowed = cutAtMarkDown(tl.Series[lb.series], markDowns, from, to, skip), budgets.CutSessionsAllowed
		all = append(all, d)
	}
	servers := tl.SeriesWithPrefix(PrefixAPIServer)
	sort.Strings(servers)
	for _, s := range servers {
		all = append(all, seriesDisruption(tl, s, "API server "+strings.TrimPrefix(s, PrefixAPIServer), QuorumReadEvery, from, to, skip, budgets.APIServer))
	}
	if w, ok := writeDisruption(h, from, to, skip, budgets.EtcdWrites); ok {
		all = append(all, w)
	}
	for _, d := range all {
		if d.Broken() {
			broken = append(broken, d)
		}
	}
	return all, broken
}

// markDownWindows are the intervals in which HAProxy marked a backend DOWN: from the
// sending of the last sample that showed it UP (also "UP 1/2") to the answer of the
// first that showed it DOWN. The last UP sample saw its state at some instant after it
// was sent, so the mark came after that sending; its answer can arrive after the DOWN
// sample's (CI: UP 1/2 sent 2.250 s answered 2.400 s, DOWN sent 2.254 s answered 2.384 s),
// and a window from that answer was empty and missed three of the four sessions cut.
func markDownWindows(tl probe.Timeline) []span {
	var out []span
	for _, name := range tl.SeriesWithPrefix(PrefixBackend) {
		var lastUp time.Duration
		up := false
		for _, s := range tl.Series[name] {
			switch {
			case s.OK:
				lastUp, up = s.At, true
			case up && strings.HasPrefix(s.Error, strings.TrimPrefix(name, PrefixBackend)+" is DOWN"):
				out = append(out, span{lastUp, s.Answered()})
				up = false
			}
		}
	}
	return out
}

// cutAtMarkDown counts the failed samples in [from, to) without an answer (an error
// status is an answer from the server, not a cut) whose
// request was in flight during a mark-down window: HAProxy cut their session.
func cutAtMarkDown(samples []probe.Sample, windows []span, from, to time.Duration, skip []span) int {
	n := 0
	for _, s := range samples {
		if s.OK || !sentIn(s.At, from, to, skip) || s.FailureCause() == probe.CauseStatus {
			continue
		}
		for _, w := range windows {
			if s.At <= w.to && s.Answered() >= w.from {
				n++
				break
			}
		}
	}
	return n
}

// sentIn says whether at lies in [from, to) and in no skipped window [from, to).
func sentIn(at, from, to time.Duration, skip []span) bool {
	if at < from || at >= to {
		return false
	}
	for _, w := range skip {
		if at >= w.from && at < w.to {
			return false
		}
	}
	return true
}

// seriesDisruption measures one series' samples sent in [from, to) outside skip.
func seriesDisruption(tl probe.Timeline, series, backend string, every, from, to time.Duration, skip []span, b topology.DisruptionBudget) Disruption {
	d := Disruption{Backend: backend, Budget: b}
	var spans []span
	for _, s := range tl.Series[series] {
		if !sentIn(s.At, from, to, skip) {
			continue
		}
		d.Requests++
		if !s.OK {
			d.Failed++
			spans = append(spans, span{s.At, max(s.Answered(), s.At+every)})
		}
	}
	d.Seconds = unionLength(spans)
	return d
}

// writeDisruption measures the etcd traffic's writes called in [from, to) outside skip;
// a failed or timed-out write ("may have happened") counts as failed.
func writeDisruption(h probe.KVHistory, from, to time.Duration, skip []span, b topology.DisruptionBudget) (Disruption, bool) {
	d := Disruption{Backend: "etcd writes", Budget: b}
	var spans []span
	for _, op := range h.Operations {
		if op.Kind != "put" || !sentIn(op.Call, from, to, skip) {
			continue
		}
		d.Requests++
		if !op.OK {
			d.Failed++
			spans = append(spans, span{op.Call, max(op.Return, op.Call+KVEvery)})
		}
	}
	d.Seconds = unionLength(spans)
	return d, d.Requests > 0
}

type span struct{ from, to time.Duration }

// unionLength is the total length covered by spans (overlaps counted once).
func unionLength(spans []span) time.Duration {
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var total, end time.Duration
	started := false
	for _, s := range spans {
		switch {
		case !started || s.from > end:
			total += s.to - s.from
			end, started = s.to, true
		case s.to > end:
			total += s.to - end
			end = s.to
		}
	}
	return total
}
