package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/hachaos/hachaos/probe"
)

func latencyTimeline() probe.Timeline {
	var lb, dp []probe.Sample
	for i := range 100 { // 10 s of requests, 100 ms apart, 10 ms each; 4 fail at 5 s
		at := time.Duration(i) * 100 * time.Millisecond
		lb = append(lb, probe.Sample{At: at, Latency: 10 * time.Millisecond, OK: i < 50 || i >= 54})
		dp = append(dp, probe.Sample{At: at, Latency: time.Duration(1+i%10) * time.Millisecond, OK: true})
	}
	return probe.Timeline{Series: map[string][]probe.Sample{
		"lb": lb, "dataplane/w<1>": dp,
		"backend/cp1": {{At: 0, OK: true, Value: "UP"}}, // a state read, not requests
	}}
}

func TestRequestCountsGiveEachRequestSeriesItsFailedShare(t *testing.T) {
	got := RequestCounts(latencyTimeline())
	if len(got) != 2 || got[0].Series != "lb" || got[1].Series != "dataplane/w<1>" {
		t.Fatalf("series %+v, want lb then the data plane, no backend", got)
	}
	if got[0].Sent != 100 || got[0].Failed != 4 || got[0].Percent != 4 {
		t.Errorf("lb %+v, want 100 sent, 4 failed, 4 %%", got[0])
	}
	if got[1].Failed != 0 || got[1].Percent != 0 {
		t.Errorf("data plane %+v, want none failed", got[1])
	}
}

func TestLatencyBucketsArePercentilesOfTheAnsweredRequests(t *testing.T) {
	b := latencyBuckets(latencyTimeline().Series["dataplane/w<1>"], 10*time.Second, time.Second)
	if len(b) != 11 {
		t.Fatalf("%d buckets, want 11 (0–10 s by 1 s)", len(b))
	}
	// each second holds latencies 1..10 ms once: nearest-rank p50 5 ms, p99 10 ms
	if b[3].answered != 10 || b[3].p50 != 5*time.Millisecond || b[3].p99 != 10*time.Millisecond {
		t.Errorf("bucket 3 = %+v, want 10 answered, p50 5ms, p99 10ms", b[3])
	}
	lb := latencyBuckets(latencyTimeline().Series["lb"], 10*time.Second, time.Second)
	if lb[5].failed != 4 || lb[5].answered != 6 {
		t.Errorf("lb bucket 5 = %+v, want 4 failed and 6 answered", lb[5])
	}
}

// The latency chart must not use the timeline lanes' colours: the screenshot check
// counts painted timelines by them, and a chart counted as one would fail every report.
func TestLatencySVGKeepsOffTheLaneColoursAndEscapes(t *testing.T) {
	svg := LatencySVG(latencyTimeline())
	if !strings.HasPrefix(svg, `<svg class="latency"`) || strings.Contains(svg, "w<1>") || !strings.Contains(svg, "w&lt;1&gt;") {
		t.Fatalf("chart not an escaped latency SVG:\n%s", svg)
	}
	for c := range lanePalette() {
		hex := strings.ToLower(strings.TrimSpace(rgbHex(c)))
		if strings.Contains(strings.ToLower(svg), hex) {
			t.Errorf("the latency chart uses lane colour %s", hex)
		}
	}
	if !strings.Contains(svg, latencyFailed) {
		t.Error("no failed-request tick for the lb's failures at 5 s")
	}
	if LatencySVG(probe.Timeline{Series: map[string][]probe.Sample{"lease/x": {{At: time.Second, OK: true}}}}) != "" {
		t.Error("a timeline without request series drew a latency chart")
	}
}

func rgbHex(c [3]uint8) string {
	const digits = "0123456789abcdef"
	b := []byte{'#'}
	for _, v := range c {
		b = append(b, digits[v>>4], digits[v&15])
	}
	return string(b)
}
