package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sample is one observation: when its request was sent (on the recorder's monotonic
// clock), how long its answer took (or its timeout, for a request that got none), and
// whether it succeeded. What a sample shows was true at some instant between At and
// Answered(): "it became true at" reads Answered, "it was failing from" reads At.
type Sample struct {
	At      time.Duration `json:"at"`
	Latency time.Duration `json:"latency"`
	OK      bool          `json:"ok"`
	Value   string        `json:"value,omitempty"` // what was seen (a backend state, a holder)
	Error   string        `json:"error,omitempty"`
	// Cause is why it failed, classified from the error value when it was taken (judges
	// read it, never the error's text): see FailureCause for recordings made before.
	Cause Cause `json:"cause,omitempty"`
}

// Answered is when the sample's answer came (or its request gave up).
func (s Sample) Answered() time.Duration { return s.At + s.Latency }

// EventKind says what an event marks. Reports and judges read the kind, never the name,
// which is prose for people ("inject etcd-member-stop on node2").
type EventKind string

// The kinds of the fault-run pipeline's events, in the order a run passes them, and
// EventNote for anything else a reader should see on the timeline.
const (
	EventInject     EventKind = "inject"     // a fault's Inject began
	EventInPlace    EventKind = "in-place"   // every Inject of the run returned
	EventInEffect   EventKind = "in-effect"  // the fault was seen in effect from outside
	EventRecovering EventKind = "recovering" // Recover began: the last instant the fault surely held
	EventRecovered  EventKind = "recovered"  // every Recover returned
	EventHealthy    EventKind = "healthy"    // the cluster was healthy again (readiness, rejoin)
	EventNote       EventKind = "note"       // anything else (a standby took a Lease, …)
	// A step of a monitored command (an upgrade's or rolling restart's per-node steps):
	// drawn as a band from its begin to the end of the same name.
	EventStepBegin EventKind = "step-begin"
	EventStepEnd   EventKind = "step-end"
)

// Event marks a moment on the timeline.
type Event struct {
	At   time.Duration `json:"at"`
	Kind EventKind     `json:"kind"`
	Name string        `json:"name"`
	// Target is the node or member the event is about, where it is about one.
	Target string `json:"target,omitempty"`
}

// UnmarshalJSON reads events of timelines written before events had a kind (hachaos
// results schema v1): their kind is inferred, once, from the names that version wrote.
func (e *Event) UnmarshalJSON(data []byte) error {
	type plain Event
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	if p.Kind == "" {
		p.Kind = legacyEventKind(p.Name)
		if _, target, ok := strings.Cut(p.Name, " on "); ok && p.Kind == EventInject {
			p.Target = target // "inject etcd-member-stop on <member>"
		}
	}
	*e = Event(p)
	return nil
}

func legacyEventKind(name string) EventKind {
	switch {
	case strings.HasPrefix(name, "inject"):
		return EventInject
	case name == "partition in place":
		return EventInPlace
	case name == "majority down":
		return EventInEffect
	case name == "recovering":
		return EventRecovering
	case name == "recover":
		return EventRecovered
	case strings.HasPrefix(name, "rejoined"), name == "back-in-rotation":
		return EventHealthy
	}
	return EventNote
}

// Timeline is everything a recorder saw, on one clock.
type Timeline struct {
	Start  time.Time           `json:"start"`
	Series map[string][]Sample `json:"series"`
	Events []Event             `json:"events"`
}

// End is the last instant the recording covers: its latest sample's sending or event.
func (t Timeline) End() time.Duration {
	var end time.Duration
	for _, samples := range t.Series {
		for _, s := range samples {
			end = max(end, s.At)
		}
	}
	for _, e := range t.Events {
		end = max(end, e.At)
	}
	return end
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

// Mark records an event of kind now and returns when it happened on the recorder's clock.
func (r *Recorder) Mark(kind EventKind, name string) time.Duration {
	return r.MarkTarget(kind, name, "")
}

// MarkTarget records an event about target (a node, a member) now.
func (r *Recorder) MarkTarget(kind EventKind, name, target string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := r.Since()
	r.tl.Events = append(r.tl.Events, Event{At: at, Kind: kind, Name: name, Target: target})
	return at
}

// MarkAt records an event at a given instant of the recorder's clock (a step the
// monitored command wrote down itself); events stay in time order.
func (r *Recorder) MarkAt(at time.Duration, kind EventKind, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tl.Events = append(r.tl.Events, Event{At: at, Kind: kind, Name: name})
	sort.SliceStable(r.tl.Events, func(i, j int) bool { return r.tl.Events[i].At < r.tl.Events[j].At })
}

// Start is the recorder's start on the wall clock: a wall time t is t.Sub(Start()) on
// its clock.
func (r *Recorder) Start() time.Time { return r.start }

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
		s.Error, s.Cause = err.Error(), Classify(err)
	}
	r.mu.Lock()
	r.tl.Series[series] = append(r.tl.Series[series], s)
	r.mu.Unlock()
}

// FirstAnswerAfter is Timeline.FirstAnswerAfter over the samples recorded so far: a spec
// that waits for something waits on exactly the samples its judge will read, so it
// never ends a recording before it holds what it waited for.
func (r *Recorder) FirstAnswerAfter(series string, from time.Duration, match func(Sample) bool) (Sample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Timeline{Series: map[string][]Sample{series: r.tl.Series[series]}}.FirstAnswerAfter(series, from, match)
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

// EventAt returns when the first event of kind happened; ok is false if none did.
func (t Timeline) EventAt(kind EventKind) (at time.Duration, ok bool) {
	for _, e := range t.Events {
		if e.Kind == kind {
			return e.At, true
		}
	}
	return 0, false
}

// TargetEventAt returns when the first event of kind about target happened.
func (t Timeline) TargetEventAt(kind EventKind, target string) (at time.Duration, ok bool) {
	for _, e := range t.Events {
		if e.Kind == kind && e.Target == target {
			return e.At, true
		}
	}
	return 0, false
}

// LastEventAt returns when the last event of kind happened; ok is false if none did.
func (t Timeline) LastEventAt(kind EventKind) (at time.Duration, ok bool) {
	for _, e := range t.Events {
		if e.Kind == kind {
			at, ok = e.At, true
		}
	}
	return at, ok
}

// Band is one step of a monitored command on the recorder's clock.
type Band struct {
	Name     string
	From, To time.Duration
}

// StepBands pairs each step-begin event with the next step-end of the same name (a step
// never ended lasts until end).
func (t Timeline) StepBands(end time.Duration) []Band {
	var bands []Band
	open := map[string]int{}
	for _, e := range t.Events {
		switch e.Kind {
		case EventStepBegin:
			open[e.Name] = len(bands)
			bands = append(bands, Band{Name: e.Name, From: e.At, To: end})
		case EventStepEnd:
			if i, ok := open[e.Name]; ok {
				bands[i].To = e.At
				delete(open, e.Name)
			}
		}
	}
	return bands
}

// Window is what a series saw between two instants.
type Window struct {
	Samples  int
	Failures int
	// FirstFailure is when the first failed request of the window was sent;
	// LastFailureEnd is when the last failed one gave up or got its failed answer
	// (both zero when none failed).
	FirstFailure, LastFailureEnd time.Duration
}

// FailureSpan is how long requests kept failing: from the start of the first failed
// request to the end of the last one. A single request that hung for 2 s spans 2 s.
func (w Window) FailureSpan() time.Duration { return w.LastFailureEnd - w.FirstFailure }

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
		w.LastFailureEnd = max(w.LastFailureEnd, s.Answered())
	}
	return w
}

// FirstSentAfter is when the first sample sent at or after from for which match holds
// was sent: the earliest instant its state may have begun ("stopped answering at").
func (t Timeline) FirstSentAfter(series string, from time.Duration, match func(Sample) bool) (Sample, bool) {
	for _, s := range t.Series[series] {
		if s.At >= from && match(s) {
			return s, true
		}
	}
	return Sample{}, false
}

// FirstAnswerAfter is the sample, among those sent at or after from for which match
// holds, whose answer came first: "it became true at" is its Answered(), the first
// instant an observer knew. A later request may be answered before an earlier one.
func (t Timeline) FirstAnswerAfter(series string, from time.Duration, match func(Sample) bool) (Sample, bool) {
	var first Sample
	found := false
	for _, s := range t.Series[series] {
		if s.At >= from && match(s) && (!found || s.Answered() < first.Answered()) {
			first, found = s, true
		}
	}
	return first, found
}

// SeriesWithPrefix lists the names of the series that start with prefix, sorted.
func (t Timeline) SeriesWithPrefix(prefix string) []string {
	var names []string
	for name := range t.Series {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Load reads a timeline saved by Save.
func Load(path string) (Timeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Timeline{}, err
	}
	var tl Timeline
	if err := json.Unmarshal(data, &tl); err != nil {
		return Timeline{}, fmt.Errorf("parse timeline %s: %w", path, err)
	}
	return tl, nil
}
