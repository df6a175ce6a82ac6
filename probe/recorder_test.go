package probe

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// timeline is one "lb" series sampled every 100 ms, each answer 50 ms after its request.
func timeline(oks ...bool) Timeline {
	tl := Timeline{Series: map[string][]Sample{}}
	for i, ok := range oks {
		tl.Series["lb"] = append(tl.Series["lb"], Sample{At: ms(100 * i), Latency: ms(50), OK: ok})
	}
	return tl
}

func TestBetweenSpansFromTheFirstFailuresStartToTheLastFailuresEnd(t *testing.T) {
	//                 0     100   200    300    400   500    600   700
	tl := timeline(false, true, false, false, true, false, true, true)
	cases := []struct {
		from, to      time.Duration
		samples, fail int
		span          time.Duration
	}{
		{0, ms(800), 8, 4, ms(550)},       // first failure sent at 0, last one over at 550
		{ms(100), ms(500), 4, 2, ms(150)}, // 200 and 300 fail: 200 → 350
		{ms(600), ms(800), 2, 0, 0},       // nothing failed
		{ms(500), ms(501), 1, 1, ms(50)},  // one failed request spans its own latency
	}
	for _, c := range cases {
		w := tl.Between("lb", c.from, c.to)
		if w.Samples != c.samples || w.Failures != c.fail || w.FailureSpan() != c.span {
			t.Errorf("Between(%v, %v) = %+v span %v; want %d samples, %d failures, span %v",
				c.from, c.to, w, w.FailureSpan(), c.samples, c.fail, c.span)
		}
	}
}

func TestAHungRequestCountsForItsWholeTimeout(t *testing.T) {
	tl := Timeline{Series: map[string][]Sample{"lb": {{At: 0, Latency: 2 * time.Second, OK: false}, {At: ms(100), Latency: ms(5), OK: true}}}}
	if span := tl.Between("lb", 0, time.Second).FailureSpan(); span != 2*time.Second {
		t.Fatalf("span = %v; a request that hung until its 2 s timeout failed for 2 s", span)
	}
}

func TestFirstAnswerAfterIsWhenAnObserverFirstKnew(t *testing.T) {
	tl := Timeline{Series: map[string][]Sample{"etcd": {
		{At: ms(100), Latency: ms(1900), OK: true, Value: "new"}, // sent first, answered at 2000
		{At: ms(200), Latency: ms(300), OK: true, Value: "new"},  // sent later, answered at 500
		{At: ms(300), Latency: ms(10), OK: true, Value: "old"},
	}}}
	isNew := func(s Sample) bool { return s.Value == "new" }
	s, ok := tl.FirstAnswerAfter("etcd", 0, isNew)
	if !ok || s.Answered() != ms(500) {
		t.Fatalf("FirstAnswerAfter = %v (answered %v); want the answer at 500ms", s, s.Answered())
	}
	sent, ok := tl.FirstSentAfter("etcd", 0, isNew)
	if !ok || sent.At != ms(100) {
		t.Fatalf("FirstSentAfter = %v; want the request sent at 100ms", sent)
	}
	if _, ok := tl.FirstAnswerAfter("etcd", ms(250), isNew); ok {
		t.Fatal("a sample sent before from was counted")
	}
}

func TestEventsAreFoundByKindAndOldTimelinesGetTheirKinds(t *testing.T) {
	var tl Timeline
	old := `{"series":{},"events":[{"at":150,"name":"inject etcd-member-stop on n2"},{"at":300,"name":"recovering"},{"at":400,"name":"recover"},{"at":500,"name":"rejoined n2"}]}`
	if err := json.Unmarshal([]byte(old), &tl); err != nil {
		t.Fatal(err)
	}
	want := []EventKind{EventInject, EventRecovering, EventRecovered, EventHealthy}
	for i, e := range tl.Events {
		if e.Kind != want[i] {
			t.Errorf("event %q: kind %q, want %q", e.Name, e.Kind, want[i])
		}
	}
	if at, ok := tl.EventAt(EventRecovering); !ok || at != 300 {
		t.Fatalf("EventAt(recovering) = %v %v", at, ok)
	}
	if _, ok := tl.EventAt(EventInEffect); ok {
		t.Fatal("an event that never happened was found")
	}
	r := NewRecorder()
	r.Mark(EventInject, "inject x")
	if got := r.Stop().Events[0]; got.Kind != EventInject || got.Name != "inject x" {
		t.Fatalf("Mark recorded %+v", got)
	}
}

func TestRecorderKeepsSamplingWhileAProbeHangs(t *testing.T) {
	r := NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	r.Poll(ctx, "hang", ms(10), ms(50), func(ctx context.Context) (string, error) {
		calls.Add(1)
		<-ctx.Done() // never answers: every sample times out
		return "", errors.New("timeout")
	})
	time.Sleep(ms(120)) // the length of the recording, not a wait for a condition
	cancel()
	tl := r.Stop()
	if n := len(tl.Series["hang"]); n < 4 {
		t.Fatalf("%d samples in 120ms at a 10ms cadence; a hanging probe must not stall the recorder", n)
	}
	for _, s := range tl.Series["hang"] {
		if s.OK || s.Latency > ms(500) {
			t.Fatalf("sample %+v: want a failure bounded by the 50ms timeout", s)
		}
	}
}

// A live recorder answers FirstAnswerAfter from the samples it holds so far: what a
// spec waits on is what its judge reads once the recording stops.
func TestLiveRecorderFindsWhatItHasRecorded(t *testing.T) {
	r := NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	r.Poll(ctx, "lease", ms(5), ms(50), func(context.Context) (string, error) {
		if calls.Add(1) < 3 {
			return "old", nil
		}
		return "new", nil
	})
	isNew := func(s Sample) bool { return s.OK && s.Value == "new" }
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := r.FirstAnswerAfter("lease", 0, isNew); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recorder never showed the sample it recorded")
		}
		time.Sleep(ms(5))
	}
	cancel()
	if _, ok := r.Stop().FirstAnswerAfter("lease", 0, isNew); !ok {
		t.Fatal("the stopped timeline lacks what the live recorder showed")
	}
}
