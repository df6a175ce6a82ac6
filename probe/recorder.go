package probe

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"sync"
	"time"
)

// Sample is one observation: when it started (on the recorder's monotonic clock), how
// long it took, and whether it succeeded.
type Sample struct {
	At      time.Duration `json:"at"`
	Latency time.Duration `json:"latency"`
	OK      bool          `json:"ok"`
	Value   string        `json:"value,omitempty"` // what was seen (a backend state, a holder)
	Error   string        `json:"error,omitempty"`
}

// Event marks a moment on the timeline (a fault injected, recovered).
type Event struct {
	At   time.Duration `json:"at"`
	Name string        `json:"name"`
}

// Timeline is everything a recorder saw, on one clock.
type Timeline struct {
	Start  time.Time           `json:"start"`
	Series map[string][]Sample `json:"series"`
	Events []Event             `json:"events"`
}

// Recorder samples checks concurrently on one monotonic clock. Samples are started on a
// fixed cadence whether or not the previous one has returned, so a hanging endpoint shows
// up as failed samples, not as a gap.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	tl    Timeline
	wg    sync.WaitGroup
}

// NewRecorder starts the clock.
func NewRecorder() *Recorder {
	now := time.Now()
	return &Recorder{start: now, tl: Timeline{Start: now, Series: map[string][]Sample{}}}
}

// Since is the recorder's clock: time since it started (monotonic).
func (r *Recorder) Since() time.Duration { return time.Since(r.start) }

// Mark records an event now and returns when it happened on the recorder's clock.
func (r *Recorder) Mark(name string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := r.Since()
	r.tl.Events = append(r.tl.Events, Event{At: at, Name: name})
	return at
}

// Poll runs check every interval until ctx ends, each call bounded by timeout.
func (r *Recorder) Poll(ctx context.Context, series string, every, timeout time.Duration, check func(ctx context.Context) (string, error)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			r.wg.Add(1)
			go r.sample(ctx, series, timeout, check)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (r *Recorder) sample(ctx context.Context, series string, timeout time.Duration, check func(ctx context.Context) (string, error)) {
	defer r.wg.Done()
	at := r.Since()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	value, err := check(cctx)
	s := Sample{At: at, Latency: r.Since() - at, OK: err == nil, Value: value}
	if err != nil {
		s.Error = err.Error()
	}
	r.mu.Lock()
	r.tl.Series[series] = append(r.tl.Series[series], s)
	r.mu.Unlock()
}

// Stop waits for every sample under way (each is bounded by its timeout) and returns the
// timeline, samples sorted by start time.
func (r *Recorder) Stop() Timeline {
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, samples := range r.tl.Series {
		sort.Slice(samples, func(i, j int) bool { return samples[i].At < samples[j].At })
	}
	return r.tl
}

// Save writes the timeline as JSON.
func (t Timeline) Save(path string) error {
	data, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// EventAt returns when the named event happened; ok is false if it never did.
func (t Timeline) EventAt(name string) (at time.Duration, ok bool) {
	for _, e := range t.Events {
		if e.Name == name {
			return e.At, true
		}
	}
	return 0, false
}

// Window is what a series saw between two instants.
type Window struct {
	Samples  int
	Failures int
	// FirstFailure and LastFailure are the start times of the first and last failed
	// samples in the window (zero when none failed).
	FirstFailure, LastFailure time.Duration
}

// FailureSpan is how long requests kept failing: from the start of the first failed
// sample to the start of the last one (0 with fewer than two failures).
func (w Window) FailureSpan() time.Duration { return w.LastFailure - w.FirstFailure }

// Between summarizes the samples of series that started in [from, to).
func (t Timeline) Between(series string, from, to time.Duration) Window {
	var w Window
	for _, s := range t.Series[series] {
		if s.At < from || s.At >= to {
			continue
		}
		w.Samples++
		if s.OK {
			continue
		}
		if w.Failures == 0 {
			w.FirstFailure = s.At
		}
		w.Failures++
		w.LastFailure = s.At
	}
	return w
}

// FirstAfter is the start of the first sample at or after from for which match holds.
func (t Timeline) FirstAfter(series string, from time.Duration, match func(Sample) bool) (time.Duration, bool) {
	for _, s := range t.Series[series] {
		if s.At >= from && match(s) {
			return s.At, true
		}
	}
	return 0, false
}
