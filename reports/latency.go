package reports

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hachaos/hachaos/probe"
)

// What clients saw of each request series (requests through the LB on new and kept-alive
// connections, each API server's /readyz, each worker's NodePort): how many requests
// failed, and how long the answered ones took over time. The timeline lanes show
// failed-or-not; these show how slow "ok" was, and the share that failed.

// SeriesRequests counts one request series' requests over a spec's recording.
type SeriesRequests struct {
	Series  string  `json:"series"`
	Sent    int     `json:"sent"`
	Failed  int     `json:"failed"`
	Percent float64 `json:"failedPercent"`
}

// isRequestSeries says whether a timeline series is requests a client made (its samples'
// latency is a request's), not a state read (an LB backend, a Lease holder, an etcd
// member's status, Ready Pods).
func isRequestSeries(name string) bool {
	return name == "lb" || name == "lb-keepalive" || strings.HasPrefix(name, "apiserver/") || strings.HasPrefix(name, "dataplane/")
}

// requestSeriesNames are the timeline's request series, in the lanes' order.
func requestSeriesNames(tl probe.Timeline) []string {
	var names []string
	for n := range tl.Series {
		if isRequestSeries(n) {
			names = append(names, n)
		}
	}
	sortSeries(names, "lb", "lb-keepalive", "apiserver/", "dataplane/")
	return names
}

// RequestCounts are the sent and failed requests of every request series in tl.
func RequestCounts(tl probe.Timeline) []SeriesRequests {
	var out []SeriesRequests
	for _, n := range requestSeriesNames(tl) {
		c := SeriesRequests{Series: n, Sent: len(tl.Series[n])}
		for _, s := range tl.Series[n] {
			if !s.OK {
				c.Failed++
			}
		}
		if c.Sent > 0 {
			c.Percent = 100 * float64(c.Failed) / float64(c.Sent)
		}
		out = append(out, c)
	}
	return out
}

// latencyBucket is one slice of time of one series: the answered requests' p50 and p99
// latency, and whether any request sent in it failed.
type latencyBucket struct {
	from, to time.Duration
	p50, p99 time.Duration
	answered int
	failed   int
}

// latencyBuckets slices a series into buckets of width (by sending time).
func latencyBuckets(samples []probe.Sample, end, width time.Duration) []latencyBucket {
	n := int(end/width) + 1
	latencies := make([][]time.Duration, n)
	buckets := make([]latencyBucket, n)
	for i := range buckets {
		buckets[i].from, buckets[i].to = time.Duration(i)*width, time.Duration(i+1)*width
	}
	for _, s := range samples {
		i := min(int(s.At/width), n-1)
		if s.OK {
			latencies[i] = append(latencies[i], s.Latency)
		} else {
			buckets[i].failed++
		}
	}
	for i, ls := range latencies {
		if len(ls) == 0 {
			continue
		}
		sort.Slice(ls, func(a, b int) bool { return ls[a] < ls[b] })
		buckets[i].answered = len(ls)
		buckets[i].p50 = nearestRank(ls, 0.50)
		buckets[i].p99 = nearestRank(ls, 0.99)
	}
	return buckets
}

func nearestRank(sorted []time.Duration, q float64) time.Duration {
	return sorted[max(0, int(math.Ceil(q*float64(len(sorted))))-1)]
}

// Colours of the latency chart: none of the timeline lanes' (the screenshot check counts
// painted timelines by those).
const (
	latencyBand   = "#c6dbef"
	latencyLine   = "#2171b5"
	latencyFailed = "#e7298a"
	latencyRow    = 26.0
)

// LatencySVG draws, per request series, the answered requests' latency over time: the
// p50 as a line and the p50–p99 range as a band per bucket (a hundredth of the
// recording, at least a second), on one scale for all series (its top: the slowest
// p99), with a tick at the foot of every bucket where a request failed. The time axis
// is the timeline's, so the two read together.
func LatencySVG(tl probe.Timeline) string {
	names := requestSeriesNames(tl)
	end := timelineEnd(tl)
	if len(names) == 0 || end <= 0 {
		return ""
	}
	width := max(time.Second, (end / 100).Round(time.Second))
	x := func(d time.Duration) float64 { return labelWidth + float64(d)/float64(end)*(svgWidth-labelWidth-10) }
	all := map[string][]latencyBucket{}
	var top time.Duration
	for _, n := range names {
		all[n] = latencyBuckets(tl.Series[n], end, width)
		for _, b := range all[n] {
			top = max(top, b.p99)
		}
	}
	if top <= 0 {
		top = time.Millisecond
	}
	height := 24 + float64(len(names))*latencyRow
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="latency" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img">`, svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<text class="latency-label" x="%.0f" y="14">latency per %s (scale 0–%s); ticks below: failed requests</text>`, labelWidth, secs(width), secs(top))
	for i, n := range names {
		y0 := 20 + float64(i)*latencyRow
		base := y0 + latencyRow - 6
		scale := func(d time.Duration) float64 { return base - float64(d)/float64(top)*(latencyRow-8) }
		fmt.Fprintf(&b, `<text class="latency-label" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, labelWidth-8, base, esc(latencyTitle(n)))
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, labelWidth, svgWidth-10, base, base)
		var line []string
		for _, bk := range all[n] {
			x0, x1 := x(bk.from), x(min(bk.to, end))
			if bk.answered > 0 {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s–%s: %d answered, p50 %s, p99 %s</title></rect>`,
					x0, scale(bk.p99), math.Max(x1-x0, 0.5), math.Max(scale(bk.p50)-scale(bk.p99), 0.5), latencyBand,
					secs(bk.from), secs(bk.to), bk.answered, secs(bk.p50), secs(bk.p99))
				line = append(line, fmt.Sprintf("%.1f,%.1f", (x0+x1)/2, scale(bk.p50)))
			}
			if bk.failed > 0 {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="4" fill="%s"><title>%s–%s: %d failed</title></rect>`,
					x0, base+1, math.Max(x1-x0, 1), latencyFailed, secs(bk.from), secs(bk.to), bk.failed)
			}
		}
		if len(line) > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/>`, latencyLine, strings.Join(line, " "))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func latencyTitle(series string) string {
	if w, ok := strings.CutPrefix(series, "dataplane/"); ok {
		return "workload via NodePort of " + w
	}
	return laneTitle(series)
}

// requestsLine renders counts for the report: "API via LB (new connection) 412 sent,
// 3 failed (0.73 %) · …".
func requestsLine(counts []SeriesRequests) string {
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = fmt.Sprintf("%s: %d sent, %d failed (%.2f %%)", latencyTitle(c.Series), c.Sent, c.Failed, c.Percent)
	}
	return strings.Join(parts, " · ")
}
