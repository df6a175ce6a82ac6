package reports

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hachaos/hachaos/probe"
)

// The timeline drawing: one lane per recorded series, time on the x axis, fault windows
// shaded across all lanes. Lanes are made of segments (consecutive samples that saw the
// same state) so a ten-minute timeline stays a few hundred shapes. Every text is escaped.

const (
	svgWidth   = 1100.0
	labelWidth = 250.0
	laneHeight = 18.0
	laneGap    = 4.0
	axisHeight = 42.0
)

var (
	colorOK      = "#2e9d4f"
	colorFailed  = "#d1352b"
	colorChange  = "#e8a317"
	colorUnknown = "#9aa0a6"
	holderColors = []string{"#3a6fd8", "#8e44ad", "#16a085", "#c0392b", "#d35400", "#2c3e50", "#7f8c8d"}
)

// segment is a stretch of a lane with one colour and one label.
type segment struct {
	from, to time.Duration
	color    string
	key      string // samples with equal keys merge
	label    string // drawn inside when it fits
	title    string // tooltip
	count    int    // samples in it
}

type lane struct {
	name     string
	segments []segment
}

// TimelineSVG draws tl (and, when not nil, the acknowledged writes of history) as an
// inline SVG element.
func TimelineSVG(tl probe.Timeline, history *probe.KVHistory) string {
	lanes := timelineLanes(tl, history)
	end := timelineEnd(tl)
	if end <= 0 {
		return `<p class="muted">empty timeline</p>`
	}
	x := func(d time.Duration) float64 {
		return labelWidth + float64(d)/float64(end)*(svgWidth-labelWidth-10)
	}
	height := axisHeight + float64(len(lanes))*(laneHeight+laneGap) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img">`,
		svgWidth, height, svgWidth, height)
	drawFaultWindows(&b, tl.Events, end, x, height)
	drawStepBands(&b, tl.Events, end, x, height)
	drawAxis(&b, end, x, height)
	for i, l := range lanes {
		y := axisHeight + float64(i)*(laneHeight+laneGap)
		fmt.Fprintf(&b, `<text class="lane" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, labelWidth-8, y+laneHeight-5, esc(l.name))
		for _, s := range l.segments {
			x0, x1 := x(s.from), x(s.to)
			w := math.Max(x1-x0, 1)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.0f" fill="%s"><title>%s</title></rect>`,
				x0, y, w, laneHeight, s.color, esc(s.title))
			if s.label != "" && w > 7*float64(len(s.label)) {
				fmt.Fprintf(&b, `<text class="seg" x="%.1f" y="%.1f">%s</text>`, x0+3, y+laneHeight-5, esc(s.label))
			}
		}
	}
	drawEventMarkers(&b, tl.Events, x, height)
	b.WriteString(`</svg>`)
	return b.String()
}

func timelineEnd(tl probe.Timeline) time.Duration {
	var end time.Duration
	for _, samples := range tl.Series {
		for _, s := range samples {
			end = max(end, s.At+s.Latency)
		}
	}
	for _, e := range tl.Events {
		end = max(end, e.At)
	}
	return end
}

// faultWindows pairs each inject event with the next recovered one (or the end).
func faultWindows(events []probe.Event, end time.Duration) [][2]time.Duration {
	var windows [][2]time.Duration
	open := time.Duration(-1)
	for _, e := range events {
		switch {
		case e.Kind == probe.EventInject && open < 0:
			open = e.At
		case e.Kind == probe.EventRecovered && open >= 0:
			windows = append(windows, [2]time.Duration{open, e.At})
			open = -1
		}
	}
	if open >= 0 {
		windows = append(windows, [2]time.Duration{open, end})
	}
	return windows
}

func drawFaultWindows(b *strings.Builder, events []probe.Event, end time.Duration, x func(time.Duration) float64, height float64) {
	for _, w := range faultWindows(events, end) {
		fmt.Fprintf(b, `<rect class="fault" x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#f6d5d3" fill-opacity="0.6"><title>fault %s – %s</title></rect>`,
			x(w[0]), axisHeight-6, math.Max(x(w[1])-x(w[0]), 1), height-axisHeight, secs(w[0]), secs(w[1]))
	}
}

// drawStepBands shades each step of a monitored command, alternating two blues.
func drawStepBands(b *strings.Builder, events []probe.Event, end time.Duration, x func(time.Duration) float64, height float64) {
	for i, s := range (probe.Timeline{Events: events}).StepBands(end) {
		fill := []string{"#d6e6f5", "#eaf2fa"}[i%2]
		fmt.Fprintf(b, `<rect class="step" x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" fill-opacity="0.7"><title>%s: %s – %s</title></rect>`,
			x(s.From), axisHeight-6, math.Max(x(s.To)-x(s.From), 1), height-axisHeight, fill, esc(s.Name), secs(s.From), secs(s.To))
	}
}

func drawEventMarkers(b *strings.Builder, events []probe.Event, x func(time.Duration) float64, height float64) {
	for i, e := range events {
		if e.Kind == probe.EventStepEnd {
			continue // its band ends there; the begin marker names it
		}
		xe := x(e.At)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#444" stroke-dasharray="3,3"><title>%s at %s</title></line>`,
			xe, xe, axisHeight-6, height, esc(e.Name), secs(e.At))
		// three staggered rows, so events close in time stay readable
		fmt.Fprintf(b, `<text class="event" x="%.1f" y="%.0f">%s</text>`, xe+2, 9+float64(i%3)*8, esc(shorten(e.Name, 40)))
	}
}

func drawAxis(b *strings.Builder, end time.Duration, x func(time.Duration) float64, height float64) {
	step := tickStep(end)
	for t := time.Duration(0); t <= end; t += step {
		xt := x(t)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#e3e3e3"/>`, xt, xt, axisHeight-6, height)
		fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, xt, axisHeight-9, secs(t))
	}
}

// tickStep picks a round step giving at most about 12 ticks.
func tickStep(end time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute} {
		if end/s <= 12 {
			return s
		}
	}
	return 10 * time.Minute
}

// timelineLanes orders lanes as a reader follows a failover: clients through the LB,
// the API servers and the LB's view of them, Lease holders, etcd members, writes, Pods.
func timelineLanes(tl probe.Timeline, history *probe.KVHistory) []lane {
	names := make([]string, 0, len(tl.Series))
	for n := range tl.Series {
		names = append(names, n)
	}
	sortSeries(names, "lb", "lb-keepalive", "apiserver/", "backend/", "lease/", "etcd/", "workload")
	holders := holderPalette(tl)
	var lanes []lane
	for _, n := range names {
		samples := tl.Series[n]
		switch {
		case n == "lb" || n == "lb-keepalive" || strings.HasPrefix(n, "apiserver/"):
			lanes = append(lanes, lane{laneTitle(n), segments(samples, availability)})
		case strings.HasPrefix(n, "backend/"):
			lanes = append(lanes, lane{"LB backend " + strings.TrimPrefix(n, "backend/"), segments(samples, backendState)})
		case strings.HasPrefix(n, "lease/"):
			lanes = append(lanes, lane{"Lease " + strings.TrimPrefix(n, "lease/"), segments(samples, holderState(holders))})
		case strings.HasPrefix(n, "etcd/"):
			lanes = append(lanes, lane{"etcd " + strings.TrimPrefix(n, "etcd/"), segments(samples, etcdState(holders))})
		case n == "workload":
			lanes = append(lanes, workloadLanes(samples)...)
		default:
			lanes = append(lanes, lane{n, segments(samples, availability)})
		}
		if n == "etcd/"+lastEtcd(names) && history != nil {
			lanes = append(lanes, writesLane(history, timelineEnd(tl)))
		}
	}
	if history != nil && lastEtcd(names) == "" {
		lanes = append(lanes, writesLane(history, timelineEnd(tl)))
	}
	return lanes
}

// sortSeries orders series names by the first of order each matches (a name, or a
// prefix ending in "/"), then by name; unmatched names go last.
func sortSeries(names []string, order ...string) {
	rank := func(n string) int {
		for i, p := range order {
			if n == p || strings.HasSuffix(p, "/") && strings.HasPrefix(n, p) {
				return i
			}
		}
		return len(order)
	}
	sort.Slice(names, func(i, j int) bool {
		if rank(names[i]) != rank(names[j]) {
			return rank(names[i]) < rank(names[j])
		}
		return names[i] < names[j]
	})
}

func lastEtcd(names []string) string {
	last := ""
	for _, n := range names {
		if strings.HasPrefix(n, "etcd/") {
			last = strings.TrimPrefix(n, "etcd/")
		}
	}
	return last
}

func laneTitle(series string) string {
	switch series {
	case "lb":
		return "API via LB (new connection)"
	case "lb-keepalive":
		return "API via LB (kept alive)"
	}
	return "API server " + strings.TrimPrefix(series, "apiserver/") + " /readyz"
}

// state is how one sample is drawn: a key (equal keys merge), a colour and a label.
type state func(probe.Sample) (key, color, label string)

func availability(s probe.Sample) (string, string, string) {
	if s.OK {
		return "ok", colorOK, ""
	}
	return "failed", colorFailed, ""
}

// backendState: the recorder marks a backend that is not UP as a failed sample with
// HAProxy's status as value; without a value the stats could not be read.
func backendState(s probe.Sample) (string, string, string) {
	switch {
	case s.Value == "":
		return "unknown", colorUnknown, ""
	case s.Value == "UP":
		return "UP", colorOK, "UP"
	case strings.HasPrefix(s.Value, "DOWN") && !strings.Contains(s.Value, "/"):
		return "DOWN", colorFailed, "DOWN"
	}
	return s.Value, colorChange, s.Value // "UP 1/2": failing checks, not yet DOWN
}

func holderState(palette map[string]string) state {
	return func(s probe.Sample) (string, string, string) {
		switch {
		case !s.OK:
			return "?", colorUnknown, ""
		case s.Value == "":
			return "", colorFailed, "nobody"
		}
		node := strings.Fields(s.Value)[0] // "<node> <instance>"; older timelines: the node
		return s.Value, palette[node], s.Value
	}
}

func etcdState(palette map[string]string) state {
	return func(s probe.Sample) (string, string, string) {
		if !s.OK {
			return "down", colorFailed, "unreachable"
		}
		leader, term := field(s.Value, "leader"), field(s.Value, "term")
		if leader == "" || leader == "none" {
			return "no leader " + term, colorChange, "no leader"
		}
		return leader + " " + term, palette[leader], "leader " + leader + " · term " + term
	}
}

// holderPalette gives every node seen as a Lease holder or etcd leader one colour, the
// same in every lane.
func holderPalette(tl probe.Timeline) map[string]string {
	var seen []string
	for n, samples := range tl.Series {
		if !strings.HasPrefix(n, "lease/") && !strings.HasPrefix(n, "etcd/") {
			continue
		}
		for _, s := range samples {
			v := s.Value
			if strings.HasPrefix(n, "etcd/") {
				v = field(v, "leader")
			} else if f := strings.Fields(v); len(f) > 0 {
				v = f[0] // the holder's node, not its instance
			}
			if v != "" && !slicesContains(seen, v) {
				seen = append(seen, v)
			}
		}
	}
	sort.Strings(seen)
	palette := map[string]string{}
	for i, v := range seen {
		palette[v] = holderColors[i%len(holderColors)]
	}
	return palette
}

func slicesContains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// field reads one "key=value" field of a space-separated sample value.
func field(value, key string) string {
	for _, f := range strings.Fields(value) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// segments merges consecutive samples of the same state; a segment runs until the next
// sample starts (the last one until its own answer came).
func segments(samples []probe.Sample, st state) []segment {
	var out []segment
	for i, s := range samples {
		key, color, label := st(s)
		to := s.At + s.Latency
		if i+1 < len(samples) {
			to = samples[i+1].At
		}
		if n := len(out); n > 0 && out[n-1].key == key {
			out[n-1].to = to
			out[n-1].count++
			continue
		}
		out = append(out, segment{from: s.At, to: to, color: color, label: label, key: key, count: 1})
	}
	// Tooltips: state, span and sample count (and the first error of a failed span).
	for i := range out {
		out[i].title = fmt.Sprintf("%s: %s – %s (%d samples)", orDash(out[i].key), secs(out[i].from), secs(out[i].to), out[i].count)
	}
	addFirstErrors(out, samples)
	return out
}

func addFirstErrors(segs []segment, samples []probe.Sample) {
	j := 0
	for i := range segs {
		for j < len(samples) && samples[j].At < segs[i].from {
			j++
		}
		if j < len(samples) && !samples[j].OK && samples[j].Error != "" {
			segs[i].title += "\n" + shorten(samples[j].Error, 200)
		}
	}
}

// workloadLanes turns "node=ready,…" samples into one lane per node with its Ready
// replica count.
func workloadLanes(samples []probe.Sample) []lane {
	var nodes []string
	counts := make([]map[string]string, len(samples))
	for i, s := range samples {
		counts[i] = map[string]string{}
		for _, kv := range strings.Split(s.Value, ",") {
			if n, c, ok := strings.Cut(kv, "="); ok {
				counts[i][n] = c
				if !slicesContains(nodes, n) {
					nodes = append(nodes, n)
				}
			}
		}
	}
	sort.Strings(nodes)
	var lanes []lane
	for _, node := range nodes {
		st := func(s probe.Sample) (string, string, string) {
			if !s.OK {
				return "?", colorUnknown, ""
			}
			c := field(strings.ReplaceAll(s.Value, ",", " "), node)
			if c == "" || c == "0" {
				return "0", zeroReady, "0"
			}
			return c, readyShade(c), c
		}
		lanes = append(lanes, lane{"Ready Pods on " + node, segments(samples, st)})
	}
	return lanes
}

// Ready Pods on a node: pale red for none, then darker greens.
var (
	zeroReady   = "#f1c0bb"
	readyShades = []string{"#a8d5b5", "#6fbf86", "#3fa35f", "#2e7d4a"}
)

func readyShade(count string) string {
	n, _ := strconv.Atoi(count)
	return readyShades[max(0, min(n-1, len(readyShades)-1))]
}

// writesLane shows etcd writes per pixel column: green where one was acknowledged, red
// where writes only failed, nothing where none was attempted.
func writesLane(h *probe.KVHistory, end time.Duration) lane {
	const columns = 800
	width := end / columns
	if width <= 0 {
		width = time.Millisecond
	}
	acked := map[int]int{}
	failed := map[int]int{}
	for _, op := range h.Operations {
		if op.Kind != "put" {
			continue
		}
		col := int(op.Return / width)
		if op.OK {
			acked[col]++
		} else {
			failed[col]++
		}
	}
	var segs []segment
	for col := 0; col <= columns; col++ {
		from, to := time.Duration(col)*width, time.Duration(col+1)*width
		switch {
		case acked[col] > 0:
			segs = append(segs, segment{from: from, to: to, color: colorOK, title: fmt.Sprintf("%d acknowledged at %s", acked[col], secs(from))})
		case failed[col] > 0:
			segs = append(segs, segment{from: from, to: to, color: colorFailed, title: fmt.Sprintf("%d failed at %s", failed[col], secs(from))})
		}
	}
	return lane{"etcd writes acknowledged", segs}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// esc escapes text for HTML and SVG.
func esc(s string) string { return html.EscapeString(s) }
