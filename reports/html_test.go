package reports

import (
	"github.com/hachaos/hachaos/verdict"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/hachaos/hachaos/probe"
)

// writeTimeline saves a small timeline under dir and returns the report entry a suite
// would attach.
func writeTimeline(t *testing.T, dir string) types.ReportEntry {
	t.Helper()
	tl := probe.Timeline{Start: time.Now(), Series: map[string][]probe.Sample{
		"lb":                       {{At: 0, OK: true}, {At: time.Second, Error: `<script>alert(1)</script>`}, {At: 2 * time.Second, OK: true}},
		"lease/kube-scheduler":     {{At: 0, OK: true, Value: "cp1"}, {At: 2 * time.Second, OK: true, Value: "cp2"}},
		"etcd/cp1":                 {{At: 0, OK: true, Value: "leader=cp1 term=2 index=9"}, {At: 2 * time.Second, OK: true, Value: "leader=cp2 term=3 index=12"}},
		"workload":                 {{At: 0, OK: true, Value: "w1=2,w2=2"}, {At: 2 * time.Second, OK: true, Value: "w1=4"}},
		"backend/cp1":              {{At: 0, OK: true, Value: "UP"}, {At: time.Second, OK: true, Value: "UP 1/2"}, {At: 2 * time.Second, OK: true, Value: "DOWN"}},
		"apiserver/cp1<img src=x>": {{At: 0, OK: true, Value: "ok"}},
	}, Events: []probe.Event{{At: 500 * time.Millisecond, Name: "inject <b>partition</b>"}, {At: 1500 * time.Millisecond, Name: "recover"}}}
	path := filepath.Join(dir, "timelines", "spec.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tl.Save(path); err != nil {
		t.Fatal(err)
	}
	return types.ReportEntry{Name: "timeline", Value: types.WrapEntryValue(path)}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	dir := t.TempDir()
	sr := specRun("partitions <cp1>", types.SpecStateFailed, "lost <writes>", leaderCrash)
	sr.ReportEntries = append(sr.ReportEntries, writeTimeline(t, dir))
	res, err := FromGinkgo([]types.Report{ginkgoRun(t, sr)}, RunInfo{Topology: Topology{Name: "x"}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Specs[0].Trials[0].Timeline != filepath.Join("timelines", "spec.json") {
		t.Fatalf("timeline path must be relative to the artifacts folder, got %q", res.Specs[0].Trials[0].Timeline)
	}
	out, err := HTML(res, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	page := string(out)
	for _, bad := range []string{"<script", "<img", "<b>partition", "<cp1>", "<writes>", "http://", "https://", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: text must be escaped and nothing loaded from elsewhere", bad)
		}
	}
	for _, want := range []string{`<svg class="timeline"`, "Lease kube-scheduler", "cp2 3: 2.0 s", "Ready Pods on w1", "LB backend cp1", "lost &lt;writes&gt;", "fault window"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestPaintedTimelinesCountsLaneBlocks(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 600, 400))
	for y := 0; y < 400; y++ {
		for x := 0; x < 600; x++ {
			img.Set(x, y, color.White)
		}
	}
	fill := func(y0, y1 int, c color.RGBA) {
		for y := y0; y < y1; y++ {
			for x := 300; x < 500; x++ {
				img.Set(x, y, c)
			}
		}
	}
	green, blue := color.RGBA{0x2e, 0x9d, 0x4f, 255}, color.RGBA{0x3a, 0x6f, 0xd8, 255}
	fill(10, 28, green) // timeline 1: two lanes 4 px apart
	fill(32, 50, blue)
	fill(120, 138, green) // timeline 2
	fill(142, 160, green)
	fill(300, 312, green) // a legend square: too small to be a timeline
	if n := PaintedTimelines(img); n != 2 {
		t.Fatalf("want 2 painted timelines, got %d", n)
	}
}

// A sabotaged or self-check run says so at the top of every report; every report names
// the hachaos build and the Spec's hash.
func TestReportsSayWhatBuiltThemAndWhetherTheRunWasDeliberate(t *testing.T) {
	dir := t.TempDir()
	info := RunInfo{Topology: Topology{Name: "x"}, Harness: Harness{Version: "v0.1.0", Commit: "4f5416c9461f018d2a95c5f91d50d8e24c64ffe0"}, SpecSHA256: "ab12cd34ef56ab12cd34"}
	for _, c := range []struct {
		conditions RunConditions
		banner     bool
	}{{RunConditions{}, false}, {RunConditions{Sabotage: "lbWithoutHealthChecks"}, true}, {RunConditions{DisabledFaults: []string{"all"}}, true}} {
		info.Conditions = c.conditions
		res, err := FromGinkgo([]types.Report{ginkgoRun(t, specRun("partitions", types.SpecStatePassed, "", leaderCrash))}, info, dir)
		if err != nil {
			t.Fatal(err)
		}
		page, err := HTML(res, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		junit, err := JUnit(res)
		if err != nil {
			t.Fatal(err)
		}
		md := Markdown(res, nil)
		for name, text := range map[string]string{"HTML": string(page), "summary": md} {
			if got := strings.Contains(text, "NOT A REAL RUN"); got != c.banner {
				t.Errorf("%s with %+v: banner %t, want %t", name, c.conditions, got, c.banner)
			}
			if !strings.Contains(text, "v0.1.0") || !strings.Contains(text, "4f5416c9461f") || !strings.Contains(text, "ab12cd34ef56") {
				t.Errorf("%s does not name the build and the Spec hash", name)
			}
		}
		if c.banner && !strings.Contains(string(junit), c.conditions.String()) {
			t.Errorf("JUnit does not carry the conditions %q", c.conditions)
		}
	}
}

// A trial past its bound is drawn red, and so is a trial that failed; the others green.
func TestDistributionDotsOfFailedTrialsAreRed(t *testing.T) {
	g := Guarantee{Name: "new leader", Unit: "s", Bound: 4, Values: []float64{1.2, 5.1, 2}}
	g.Stats = StatsOf(g.Values)
	svg := distributionSVG(g)
	if strings.Count(svg, `fill="`+colorFailed+`"`) != 1 || strings.Count(svg, `fill="`+colorOK+`"`) != 2 || !strings.Contains(svg, "trial 2: 5.1 (past the bound)") {
		t.Errorf("want one red dot (trial 2) and two green:\n%s", svg)
	}
	// a value within its bound from a trial that failed on another guarantee is red too
	g.Verdicts = []string{Passed, Passed, string(verdict.GuaranteeBroken)}
	svg = distributionSVG(g)
	if strings.Count(svg, `fill="`+colorFailed+`"`) != 2 || !strings.Contains(svg, "trial 3: 2 (the trial: guarantee broken)") {
		t.Errorf("want trial 3's dot red for its failed trial:\n%s", svg)
	}
}

// A failure message that starts with its verdict (as the monitor's do) names it once in
// the summary row: "guarantee broken: guarantee broken: …" was printed.
func TestSummaryRowNamesTheVerdictOnce(t *testing.T) {
	s := Spec{Name: "monitor: docker restart", Trials: []Trial{{Verdict: string(verdict.GuaranteeBroken), Failure: "guarantee broken: 54 of 100 requests to the data-plane workload failed",
		Measurements: []Measurement{{Name: "data plane: failed requests", Value: 54, Unit: "requests"}}}}}
	rows := summaryRows(s)
	if got := rows[0].Guarantee; got != "guarantee broken: 54 of 100 requests to the data-plane workload failed" {
		t.Errorf("summary row %q", got)
	}
}
