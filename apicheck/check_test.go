package apicheck

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// sim is an API server that applies each call at once, in order, and a watcher that
// sees every change: the histories it writes are right, and each control below breaks
// one thing in them the way a broken cluster would.
type sim struct {
	rev     int64
	objects map[string]Item
	now     time.Duration
	h       History
}

func newSim() *sim {
	s := &sim{rev: 100, objects: map[string]Item{}}
	s.h = History{Namespace: "ns", Objects: []string{"o-0", "o-1", "o-2"},
		Watches: []WatchRecord{{Watcher: 0, Connection: ConnectionKeptAlive, StartRV: "100"}}}
	return s
}

func (s *sim) tick() (call, ret time.Duration) {
	s.now += 10 * time.Millisecond
	call = s.now
	s.now += 5 * time.Millisecond
	return call, s.now
}

func (s *sim) nextRV() string { s.rev++; return fmt.Sprint(s.rev) }

func (s *sim) event(t EventType, it Item) {
	w := &s.h.Watches[0]
	w.Events = append(w.Events, WatchEvent{At: s.now + 20*time.Millisecond, Type: t, Item: it})
	w.EndRV = it.ResourceVersion
}

func (s *sim) add(o Operation) Operation {
	o.Call, o.Return = s.tick()
	if o.Connection == "" {
		o.Connection = ConnectionNew
	}
	s.h.Operations = append(s.h.Operations, o)
	return o
}

// write applies a create, update or delete as the API would, precondition included.
func (s *sim) write(client int, kind OpKind, obj, value string) Operation {
	cur, exists := s.objects[obj]
	o := Operation{Client: client, Kind: kind, Object: obj, Value: value}
	if kind != OpCreate {
		o.Precondition = cur.ResourceVersion
	}
	switch {
	case kind == OpCreate && exists:
		o.Outcome, o.Code = Refused, 409
	case kind != OpCreate && !exists:
		o.Outcome, o.Code = Refused, 404
	case kind == OpDelete:
		delete(s.objects, obj)
		o.Outcome = Acknowledged
		s.event(Deleted, Item{Name: obj, Value: cur.Value, ResourceVersion: s.nextRV()})
	default:
		it := Item{Name: obj, Value: value, ResourceVersion: s.nextRV()}
		s.objects[obj] = it
		o.Outcome, o.Result = Acknowledged, &it
		s.event(map[OpKind]EventType{OpCreate: Added, OpUpdate: Modified}[kind], it)
	}
	return s.add(o)
}

// set creates obj or updates it, whichever the API would acknowledge.
func (s *sim) set(client int, obj, value string) Operation {
	if _, ok := s.objects[obj]; ok {
		return s.write(client, OpUpdate, obj, value)
	}
	return s.write(client, OpCreate, obj, value)
}

func (s *sim) get(client int, obj string) Operation {
	o := Operation{Client: client, Kind: OpGet, Object: obj}
	if it, ok := s.objects[obj]; ok {
		o.Outcome, o.Found, o.Result = Acknowledged, true, &it
	} else {
		o.Outcome, o.Code = Refused, 404
	}
	return s.add(o)
}

func (s *sim) list(client int) Operation {
	o := Operation{Client: client, Kind: OpList, Outcome: Acknowledged, ListRV: fmt.Sprint(s.rev)}
	for _, name := range s.h.Objects {
		if it, ok := s.objects[name]; ok {
			o.Items = append(o.Items, it)
		}
	}
	return s.add(o)
}

// base is a run with no fault: two clients creating, updating, reading, listing and
// deleting three objects.
func base() *sim {
	s := newSim()
	for round := 0; round < 4; round++ {
		for c := 0; c < 2; c++ {
			obj := s.h.Objects[(round+c)%3]
			s.get(c, obj)
			if _, ok := s.objects[obj]; ok {
				s.write(c, OpUpdate, obj, fmt.Sprintf("%d-%d", c, round))
			} else {
				s.write(c, OpCreate, obj, fmt.Sprintf("%d-%d", c, round))
			}
			s.list(c)
			if round == 2 {
				s.write(c, OpDelete, obj, "")
			}
		}
	}
	return s
}

func checkOnly(t *testing.T, h History, want Guarantee, reason string) {
	t.Helper()
	r := Check(h, 10*time.Second)
	if len(r.Inconclusive) > 0 {
		t.Fatalf("inconclusive: %v", r.Inconclusive)
	}
	for _, g := range Guarantees {
		broken := r.Broken(g)
		switch {
		case g == want && len(broken) == 0:
			t.Errorf("%s: not detected", g)
		case g != want && len(broken) > 0:
			t.Errorf("%s broken too (a control must break exactly one check): %v", g, broken)
		}
	}
	if want != "" && len(r.Broken(want)) > 0 && !strings.Contains(r.Broken(want)[0].Reason, reason) {
		t.Errorf("%s detected as %q, want it to mention %q", want, r.Broken(want)[0].Reason, reason)
	}
}

func TestCheckPassesARightHistory(t *testing.T) {
	s := base()
	r := Check(s.h, 10*time.Second)
	if len(r.Violations) > 0 || len(r.Inconclusive) > 0 {
		t.Fatalf("violations %v, inconclusive %v", r.Violations, r.Inconclusive)
	}
	if r.Operations != len(s.h.Operations) || r.Events != len(s.h.Watches[0].Events) || r.Refused == 0 {
		t.Errorf("summary %+v", r)
	}
}

func TestCheckAllowsWritesOfUnknownOutcome(t *testing.T) {
	s := base()
	// an update that timed out but was applied, and one that timed out and was not
	w := s.write(0, OpUpdate, "o-0", "maybe-applied")
	last := &s.h.Operations[len(s.h.Operations)-1]
	last.Outcome, last.Result, last.Code, last.Error = Unknown, nil, 504, "timeout"
	s.get(1, "o-0")
	s.add(Operation{Client: 1, Kind: OpUpdate, Object: "o-1", Value: "never-applied", Precondition: w.Precondition, Outcome: Unknown, Error: "EOF"})
	s.get(0, "o-1")
	checkOnly(t, s.h, "", "")
}

// Checker tests and cluster-shaped controls, each breaking exactly one guarantee.
func TestCheckControls(t *testing.T) {
	cases := []struct {
		name   string
		doctor func(s *sim)
		want   Guarantee
		reason string
	}{
		{"a compare-and-set that did not compare: two updates from one version both acknowledged", func(s *sim) {
			first := s.write(0, OpUpdate, "o-1", "a")
			second := s.write(1, OpUpdate, "o-1", "b")
			s.h.Operations[len(s.h.Operations)-1].Precondition = first.Precondition
			_ = second
		}, Linearizable, "o-1: no order"},
		{"a write called after another was acknowledged got a lower resourceVersion", func(s *sim) {
			a := s.write(0, OpUpdate, "o-0", "a")
			b := s.write(1, OpUpdate, "o-1", "b")
			ops := s.h.Operations
			ia, ib := len(ops)-2, len(ops)-1
			ra, rb := *a.Result, *b.Result
			ra.ResourceVersion, rb.ResourceVersion = b.Result.ResourceVersion, a.Result.ResourceVersion
			ops[ia].Result, ops[ib].Result = &ra, &rb
			ev := s.h.Watches[0].Events
			n := len(ev)
			ev[n-2], ev[n-1] = WatchEvent{At: ev[n-2].At, Type: Modified, Item: rb}, WatchEvent{At: ev[n-1].At, Type: Modified, Item: ra}
			s.objects["o-0"], s.objects["o-1"] = ra, rb
			s.get(0, "o-0")
		}, VersionsInOrder, "not above"},
		{"a list served from a stale cache (older than an acknowledged write)", func(s *sim) {
			before := s.objects["o-1"]
			s.write(0, OpUpdate, "o-1", "new")
			l := s.list(1)
			i := len(s.h.Operations) - 1
			for j, it := range l.Items {
				if it.Name == "o-1" {
					l.Items[j] = before
				}
			}
			s.h.Operations[i].Items, s.h.Operations[i].ListRV = l.Items, before.ResourceVersion
		}, ConsistentReads, "older than"},
		{"checker test: a watcher that drops the event in flight when it resumes", func(s *sim) {
			s.set(0, "o-2", "dropped")
			ev := s.h.Watches[0].Events
			s.h.Watches[0].Events = ev[:len(ev)-1]
			s.h.Watches[0].Resumptions++
			s.set(1, "o-0", "after")
		}, WatchesComplete, "never reached it"},
		{"checker test: a watcher that delivers an event twice on resume", func(s *sim) {
			s.set(0, "o-2", "twice")
			ev := s.h.Watches[0].Events
			s.h.Watches[0].Events = append(ev, ev[len(ev)-1])
		}, WatchesComplete, "repeated or out of order"},
		{"a watch that went quiet: the last writes never arrive", func(s *sim) {
			end := s.h.Watches[0].EndRV
			n := len(s.h.Watches[0].Events)
			s.set(0, "o-2", "unseen")
			s.h.Watches[0].Events, s.h.Watches[0].EndRV = s.h.Watches[0].Events[:n], end
		}, WatchesComplete, "went quiet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.doctor(s)
			checkOnly(t, s.h, c.want, c.reason)
		})
	}
}

// A delete as the traffic's last write, stopped before the watcher delivered it: its
// resourceVersion is not in its answer, so nothing shows the watcher went past it (the
// catch-up waits for the last create or update). A write called after the delete that
// the watcher delivered does show it, and then the missing event is a violation.
func TestADeleteTheWatcherMayNotHaveReachedIsNotMissed(t *testing.T) {
	s := base()
	s.set(0, "o-0", "before the delete")
	s.set(0, "o-1", "another object, before the delete") // the watcher's end goes past o-0's last write
	w := &s.h.Watches[0]
	end, n := w.EndRV, len(w.Events)
	s.write(1, OpDelete, "o-0", "")
	w.Events, w.EndRV = w.Events[:n], end
	checkOnly(t, s.h, "", "")
	s.set(0, "o-1", "after the delete")
	w.Events = append(w.Events[:n:n], w.Events[n+1:]...)
	checkOnly(t, s.h, WatchesComplete, "never reached it")
}

// The worker-loss spec of 2026-12-01 23:24 (stacked): the kept-alive client's delete
// was the last write, acknowledged 0.04 s after the new-connection watcher's last event,
// and the traffic stopped there. It was reported as a delete that "never reached" it.
func TestCheckPassesTheRecordedLastDelete(t *testing.T) {
	h, err := Load("testdata/worker-lost-last-write-a-delete.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := Check(h, 10*time.Second); len(r.Violations) > 0 || len(r.Inconclusive) > 0 {
		t.Fatalf("violations %v, inconclusive %v", r.Violations, r.Inconclusive)
	}
}

func TestRelistAfterGoneExcusesTheChangesItFoldsIn(t *testing.T) {
	s := base()
	w := &s.h.Watches[0]
	from := w.EndRV
	n := len(w.Events)
	s.set(0, "o-2", "folded")
	s.set(1, "o-0", "folded too")
	w.Events = w.Events[:n]
	w.Relists = append(w.Relists, Relist{At: s.now, From: from, ListRV: fmt.Sprint(s.rev)})
	w.EndRV = fmt.Sprint(s.rev)
	s.set(0, "o-2", "after the relist")
	checkOnly(t, s.h, "", "")
}

// The LB spec of 2026-12-01 16:33 (stacked, one API server frozen): a create on the
// kept-alive connection and a list cut with EOF as HAProxy marked the server DOWN (of
// unknown outcome), and each watcher resumed once.
func TestCheckPassesTheRecordedFreeze(t *testing.T) {
	h, err := Load("testdata/apiserver-frozen-stacked.json")
	if err != nil {
		t.Fatal(err)
	}
	r := Check(h, 10*time.Second)
	if len(r.Violations) > 0 || len(r.Inconclusive) > 0 {
		t.Fatalf("violations %v, inconclusive %v", r.Violations, r.Inconclusive)
	}
	if r.Unknown != 2 || r.Resumptions != 2 {
		t.Errorf("summary %+v: want the 2 calls of unknown outcome and the 2 resumptions recorded", r)
	}
	// the same run, had the new-connection watcher lost an event when it resumed
	w := &h.Watches[1]
	w.Events = append(w.Events[:20:20], w.Events[21:]...)
	checkOnly(t, h, WatchesComplete, "never reached it")
}
