package apicheck

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/hachaos/hachaos/probe"
)

// Guarantee names one check; a violation says which it broke.
type Guarantee string

// The four guarantees the history is held to.
const (
	Linearizable    Guarantee = "linearizable per object"
	VersionsInOrder Guarantee = "resourceVersions of acknowledged writes follow real time"
	ConsistentReads Guarantee = "reads never older than an acknowledged write"
	WatchesComplete Guarantee = "every watcher sees every change exactly once, in order"
)

// Guarantees lists them in report order.
var Guarantees = []Guarantee{Linearizable, VersionsInOrder, ConsistentReads, WatchesComplete}

// Violation is one broken guarantee with the operations that show it.
type Violation struct {
	Guarantee Guarantee `json:"guarantee"`
	Reason    string    `json:"reason"`
	// Evidence is the operations or events involved, each on one line.
	Evidence []string `json:"evidence"`
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s", v.Guarantee, v.Reason) }

// Result is what Check found.
type Result struct {
	Operations, Acknowledged, Refused, Unknown  int
	Events, Resumptions, Relists, FailedWatches int
	Violations                                  []Violation
	// Inconclusive says which guarantee could not be judged and why (porcupine ran out
	// of time, resourceVersions that are not integers).
	Inconclusive []string
}

// Broken lists the violations of one guarantee.
func (r Result) Broken(g Guarantee) []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Guarantee == g {
			out = append(out, v)
		}
	}
	return out
}

// Check holds the history to every guarantee. linearizeTimeout bounds porcupine's search.
func Check(h History, linearizeTimeout time.Duration) Result {
	r := summarize(h)
	lin, inconclusive := checkLinearizable(h, linearizeTimeout)
	r.Violations = append(r.Violations, lin...)
	r.Inconclusive = append(r.Inconclusive, inconclusive...)
	w, err := indexWrites(h)
	if err != nil {
		r.Inconclusive = append(r.Inconclusive, fmt.Sprintf("%s, %s, %s: %v", VersionsInOrder, ConsistentReads, WatchesComplete, err))
		return r
	}
	r.Violations = append(r.Violations, checkVersionsInOrder(w)...)
	r.Violations = append(r.Violations, checkConsistentReads(h, w)...)
	r.Violations = append(r.Violations, checkWatches(h, w)...)
	return r
}

func summarize(h History) Result {
	r := Result{Operations: len(h.Operations)}
	for _, o := range h.Operations {
		switch o.Outcome {
		case Acknowledged:
			r.Acknowledged++
		case Refused:
			r.Refused++
		default:
			r.Unknown++
		}
	}
	for _, w := range h.Watches {
		r.Events += len(w.Events)
		r.Resumptions += w.Resumptions
		r.Relists += len(w.Relists)
		r.FailedWatches += w.FailedWatches
	}
	return r
}

// write is an acknowledged create or update with its resourceVersion as an integer.
type write struct {
	op  Operation
	rev int64
}

// writes indexes what the version checks compare against.
type writes struct {
	acked    []write            // acknowledged creates and updates, sorted by Return
	byObject map[string][]write // the same per object
	deletes  []Operation        // acknowledged deletes
	maybe    []Operation        // writes of unknown outcome
	last     int64              // the highest acknowledged resourceVersion
}

func indexWrites(h History) (writes, error) {
	w := writes{byObject: map[string][]write{}}
	for _, o := range h.Operations {
		switch {
		case !o.IsWrite():
		case o.Outcome == Unknown:
			w.maybe = append(w.maybe, o)
		case o.Outcome != Acknowledged:
		case o.Kind == OpDelete:
			w.deletes = append(w.deletes, o)
		default:
			rev, err := revision(o.Result.ResourceVersion)
			if err != nil {
				return w, fmt.Errorf("%s: %w", o, err)
			}
			w.acked = append(w.acked, write{o, rev})
			w.last = max(w.last, rev)
		}
	}
	sort.SliceStable(w.acked, func(i, j int) bool { return w.acked[i].op.Return < w.acked[j].op.Return })
	for _, a := range w.acked {
		w.byObject[a.op.Object] = append(w.byObject[a.op.Object], a)
	}
	return w, nil
}

// latestBefore is the acknowledged write with the highest resourceVersion among those
// that returned before t (of one object, or of all when object is "").
func (w writes) latestBefore(object string, t time.Duration) (write, bool) {
	list := w.acked
	if object != "" {
		list = w.byObject[object]
	}
	var best write
	found := false
	for _, a := range list {
		if a.op.Return < t && (!found || a.rev > best.rev) {
			best, found = a, true
		}
	}
	return best, found
}

// checkVersionsInOrder: a write called after another was acknowledged has a higher
// resourceVersion, whichever API server each reached.
func checkVersionsInOrder(w writes) []Violation {
	var out []Violation
	for _, b := range w.acked {
		if a, ok := w.latestBefore("", b.op.Call); ok && a.rev >= b.rev {
			out = append(out, Violation{Guarantee: VersionsInOrder,
				Reason:   fmt.Sprintf("a write called at %.3f s got resourceVersion %d, not above the %d of a write acknowledged before it was called", b.op.Call.Seconds(), b.rev, a.rev),
				Evidence: []string{a.op.String(), b.op.String()}})
		}
	}
	return out
}

// read is one object as one acknowledged get or list showed it.
type read struct {
	op    Operation
	name  string
	found bool
	item  Item
}

// reads splits the acknowledged gets and lists (and gets answered 404) into per-object
// observations; a list shows every object of the run, present or absent.
func reads(h History) []read {
	var out []read
	for _, o := range h.Operations {
		switch {
		case o.Kind == OpGet && o.Outcome == Acknowledged && o.Result != nil:
			out = append(out, read{op: o, name: o.Object, found: true, item: *o.Result})
		case o.Kind == OpGet && o.Outcome == Refused && o.Code == 404:
			out = append(out, read{op: o, name: o.Object})
		case o.Kind == OpList && o.Outcome == Acknowledged:
			present := map[string]Item{}
			for _, it := range o.Items {
				present[it.Name] = it
			}
			for _, name := range h.Objects {
				it, ok := present[name]
				out = append(out, read{op: o, name: name, found: ok, item: it})
			}
		}
	}
	return out
}

// checkConsistentReads: a get or list called after a write was acknowledged shows that
// write or a later state — never older — on whichever API server answers (a list
// resourceVersion, too, is at least every acknowledged write's).
func checkConsistentReads(h History, w writes) []Violation {
	var out []Violation
	for _, o := range h.Operations {
		if o.Kind != OpList || o.Outcome != Acknowledged {
			continue
		}
		rev, err := revision(o.ListRV)
		if a, ok := w.latestBefore("", o.Call); ok && err == nil && rev < a.rev {
			out = append(out, Violation{Guarantee: ConsistentReads,
				Reason:   fmt.Sprintf("a list called at %.3f s answered at resourceVersion %d, older than the %d of a write acknowledged before it", o.Call.Seconds(), rev, a.rev),
				Evidence: []string{a.op.String(), o.String()}})
		}
	}
	for _, r := range reads(h) {
		if v, ok := staleRead(r, w); ok {
			out = append(out, v)
		}
	}
	return out
}

// staleRead judges one observation against the object's acknowledged writes and
// deletes that returned before the read was called.
func staleRead(r read, w writes) (Violation, bool) {
	stale := func(reason string, before Operation) (Violation, bool) {
		return Violation{Guarantee: ConsistentReads, Reason: fmt.Sprintf("%s %s at %.3f s %s", r.op.Kind, r.name, r.op.Call.Seconds(), reason),
			Evidence: []string{before.String(), r.op.String()}}, true
	}
	last, wrote := w.latestBefore(r.name, r.op.Call)
	del, deleted := latestDeleteBefore(w.deletes, r.name, r.op.Call)
	if deleted && (!wrote || del.Return > last.op.Return) {
		// The last thing acknowledged was a delete: a found object must be a newer one.
		if prior, ok := w.latestBefore(r.name, del.Call); ok && r.found && !newer(r.item, prior.rev) {
			return stale(fmt.Sprintf("showed resourceVersion %s, the state before a delete acknowledged before the read", r.item.ResourceVersion), del)
		}
		return Violation{}, false
	}
	if !wrote {
		return Violation{}, false
	}
	if r.found && !atLeast(r.item, last.rev) {
		return stale(fmt.Sprintf("showed resourceVersion %s, older than the %d acknowledged before the read", r.item.ResourceVersion, last.rev), last.op)
	}
	if !r.found && !mayHaveDeleted(w, r.name, last.op.Return, r.op.Return) {
		return stale(fmt.Sprintf("found nothing, though a write of it was acknowledged before and no delete of it could have come between"), last.op)
	}
	return Violation{}, false
}

func latestDeleteBefore(deletes []Operation, name string, t time.Duration) (Operation, bool) {
	var best Operation
	found := false
	for _, d := range deletes {
		if d.Object == name && d.Return < t && (!found || d.Return > best.Return) {
			best, found = d, true
		}
	}
	return best, found
}

// mayHaveDeleted: a delete of name (acknowledged or of unknown outcome) that may have
// taken effect between from and to.
func mayHaveDeleted(w writes, name string, from, to time.Duration) bool {
	for _, d := range append(append([]Operation(nil), w.deletes...), w.maybe...) {
		if d.Kind == OpDelete && d.Object == name && d.Call < to && (d.Outcome == Unknown || d.Return > from) {
			return true
		}
	}
	return false
}

func atLeast(it Item, rev int64) bool {
	n, err := revision(it.ResourceVersion)
	return err != nil || n >= rev
}

func newer(it Item, rev int64) bool {
	n, err := revision(it.ResourceVersion)
	return err != nil || n > rev
}

// linearizeModel is a ConfigMap as porcupine sees it: absent, or a value at a
// resourceVersion ("" when a write of unknown outcome may have set it; the next read
// tells). Writes of unknown outcome may or may not have happened.
func linearizeModel() porcupine.Model {
	m := porcupine.NondeterministicModel{
		Partition: partitionByObject,
		Init:      func() []any { return []any{objState{}} },
		Step: func(state, input, output any) []any {
			return step(state.(objState), input.(objInput), output.(objOutput))
		},
		Equal: func(a, b any) bool { return a.(objState) == b.(objState) },
		DescribeOperation: func(input, output any) string {
			return input.(objInput).Describe + " → " + output.(objOutput).Describe
		},
		DescribeState: func(state any) string {
			if s := state.(objState); s.Exists {
				return fmt.Sprintf("%q rv=%s", s.Value, s.RV)
			}
			return "absent"
		},
	}
	return m.ToModel()
}

type objState struct {
	Exists    bool
	Value, RV string
}

type objInput struct {
	Kind                        OpKind
	Object, Value, Precondition string
	Describe                    string
}

type objOutput struct {
	Outcome   Outcome
	Code      int
	Found     bool
	Value, RV string
	Describe  string
}

// step is what the API promises for one call on one object; every state it returns is
// one the call may have left.
func step(s objState, in objInput, out objOutput) []any {
	matches := s.Exists && (s.RV == "" || s.RV == in.Precondition)
	unchanged := []any{s}
	switch in.Kind {
	case OpGet:
		// only observations reach the model: an answered get or list, or a 404
		if out.Found && s.Exists && s.Value == out.Value && (s.RV == "" || s.RV == out.RV) {
			return []any{objState{true, s.Value, out.RV}}
		}
		if !out.Found && !s.Exists {
			return unchanged
		}
		return nil
	case OpCreate:
		return written(s, out, !s.Exists, objState{true, in.Value, out.RV}, s.Exists && out.Code == 409)
	case OpUpdate:
		return written(s, out, matches, objState{true, in.Value, out.RV}, refusedUpdate(s, in, out))
	case OpDelete:
		return written(s, out, matches, objState{}, refusedUpdate(s, in, out))
	}
	return nil
}

// written: an acknowledged write needed its condition and leaves after; a refused one
// needed its refusal to be right and changes nothing; one of unknown outcome leaves
// either (after only if its condition held).
func written(s objState, out objOutput, condition bool, after objState, refusalRight bool) []any {
	switch out.Outcome {
	case Acknowledged:
		if condition {
			return []any{after}
		}
	case Refused:
		if refusalRight {
			return []any{s}
		}
	default:
		if condition {
			after.RV = "" // applied, at a version nobody was told
			return []any{s, after}
		}
		return []any{s}
	}
	return nil
}

func refusedUpdate(s objState, in objInput, out objOutput) bool {
	switch out.Code {
	case 404:
		return !s.Exists
	case 409:
		return s.Exists && (s.RV == "" || s.RV != in.Precondition)
	}
	return false
}

func partitionByObject(history []porcupine.Operation) [][]porcupine.Operation {
	return probe.PartitionBy(history, func(op porcupine.Operation) string { return op.Input.(objInput).Object })
}
