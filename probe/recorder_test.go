package probe

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func timeline(oks ...bool) Timeline {
	tl := Timeline{Series: map[string][]Sample{}}
	for i, ok := range oks {
		tl.Series["lb"] = append(tl.Series["lb"], Sample{At: ms(100 * i), OK: ok})
	}
	return tl
}

func TestBetweenMeasuresTheFailureSpanInsideTheWindow(t *testing.T) {
	//                 0     100   200    300    400   500    600   700
	tl := timeline(false, true, false, false, true, false, true, true)
	cases := []struct {
		from, to      time.Duration
		samples, fail int
		span          time.Duration
	}{
		{0, ms(800), 8, 4, ms(500)},       // first failure at 0, last at 500
		{ms(100), ms(500), 4, 2, ms(100)}, // 200 and 300 fail
		{ms(600), ms(800), 2, 0, 0},       // nothing failed
		{ms(500), ms(501), 1, 1, 0},       // one failure has no span
	}
	for _, c := range cases {
		w := tl.Between("lb", c.from, c.to)
		if w.Samples != c.samples || w.Failures != c.fail || w.FailureSpan() != c.span {
			t.Errorf("Between(%v, %v) = %+v span %v; want %d samples, %d failures, span %v",
				c.from, c.to, w, w.FailureSpan(), c.samples, c.fail, c.span)
		}
	}
}

func TestFirstAfterAndEventAt(t *testing.T) {
	tl := timeline(true, false, false, true)
	tl.Events = []Event{{At: ms(150), Name: "inject"}}
	at, ok := tl.EventAt("inject")
	if !ok || at != ms(150) {
		t.Fatalf("EventAt = %v %v", at, ok)
	}
	got, ok := tl.FirstAfter("lb", at, func(s Sample) bool { return s.OK })
	if !ok || got != ms(300) {
		t.Fatalf("FirstAfter = %v %v; want 300ms", got, ok)
	}
	if _, ok := tl.EventAt("recover"); ok {
		t.Fatal("an event that never happened was found")
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
