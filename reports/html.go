package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/verdict"
)

// The HTML report is one self-contained file: inline CSS and SVG, no script, no font,
// no external reference, so it can be attached to a CI run and opened offline. All text
// goes through html/template or esc.

// WriteHTML writes the report of res, whose timelines and histories lie under dir, to
// path. cmp, when not nil, adds the comparison with a baseline.
func WriteHTML(path string, res Results, dir string, cmp *Comparison) error {
	data, err := HTML(res, dir, cmp)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// HTML renders the report.
func HTML(res Results, dir string, cmp *Comparison) ([]byte, error) {
	page := htmlPage{Res: res, Comparison: cmp, Generated: time.Now().UTC().Format(time.RFC3339)}
	for _, s := range res.Specs {
		page.Rows = append(page.Rows, summaryRows(s)...)
		hs, err := specSection(s, dir)
		if err != nil {
			return nil, err
		}
		page.Specs = append(page.Specs, hs)
		switch v := s.Verdict(); {
		case v == Passed:
			page.Passed++
		case isFailed(v):
			page.Failed++
		}
	}
	page.Verdicts = verdictCounts(res)
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, page); err != nil {
		return nil, fmt.Errorf("render HTML report: %w", err)
	}
	return b.Bytes(), nil
}

type htmlPage struct {
	Res            Results
	Comparison     *Comparison
	Generated      string
	Rows           []summaryRow
	Specs          []htmlSpec
	Passed, Failed int
	Verdicts       string // "36 passed, 1 fault not in effect"
}

type summaryRow struct {
	Anchor, Spec, Guarantee, Verdict, Measured, Bound, Formula, Margin string
	First                                                              bool // first row of its spec
	Span                                                               int
}

type htmlSpec struct {
	Anchor, Name, Verdict string
	Labels                []string
	Trials                []htmlTrial
	Distributions         []htmlDistribution
}

type htmlDistribution struct {
	Name, Stats string
	SVG         template.HTML
}

type htmlTrial struct {
	N                  int
	Verdict, Failure   string
	Location, Duration string
	Measurements       []Measurement
	Notes              []Note
	Timeline           template.HTML
	TimelinePath       string
	Latency            template.HTML // LatencySVG: how slow the answered requests were
	Requests           string        // requestsLine: the share of each series that failed
	Diagnostics        []diagnostic
}

type diagnostic struct{ Title, Text string }

func anchor(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return "spec-" + strings.Trim(b.String(), "-")
}

func summaryRows(s Spec) []summaryRow {
	gs := s.Guarantees()
	if len(gs) == 0 {
		return []summaryRow{{Anchor: anchor(s.Name), Spec: s.Name, Guarantee: "(checks without a measured time)", Verdict: s.Verdict(), Measured: "—", Bound: "—", First: true, Span: 1}}
	}
	var rows []summaryRow
	for i, g := range gs {
		verdict := Passed
		if !g.Within() {
			verdict = BoundBroken
		}
		measured := num(g.Worst()) + " " + g.Unit
		if g.Stats.N > 1 {
			measured = fmt.Sprintf("p50 %s · p95 %s · max %s %s", num(g.Stats.P50), num(g.Stats.P95), num(g.Stats.Max), g.Unit)
		}
		m := Measurement{Value: g.Worst(), Bound: g.Bound, AtLeast: g.AtLeast, Unbounded: g.Unbounded, Unit: g.Unit}
		margin := fmt.Sprintf("%+.0f %%", 100*m.Margin())
		if g.Unbounded {
			margin = "—" // no bound to keep a margin to
		}
		rows = append(rows, summaryRow{
			Anchor: anchor(s.Name), Spec: s.Name, Guarantee: g.Name, Verdict: verdict, Measured: measured,
			Bound: m.BoundText(), Formula: g.Formula, Margin: margin,
			First: i == 0, Span: len(gs),
		})
	}
	// A spec can fail on a check that is not a measured value (a lost write, failed
	// requests counted after a window): a row of its own says so, so no measured value
	// within its bound is shown as failed.
	if v := s.Verdict(); isFailed(v) {
		// a failure that already starts with its verdict (the monitor's) says it once
		failure := strings.TrimPrefix(firstLine(cleanText(firstFailure(s))), v+": ")
		rows = append([]summaryRow{{Anchor: anchor(s.Name), Spec: s.Name, Guarantee: v + ": " + shorten(failure, 200), Verdict: v,
			Measured: "—", Bound: "—", First: true}}, rows...)
		rows[1].First = false
		for i := range rows {
			rows[i].Span = len(rows)
		}
	}
	return rows
}

func specSection(s Spec, dir string) (htmlSpec, error) {
	hs := htmlSpec{Anchor: anchor(s.Name), Name: s.Name, Verdict: s.Verdict(), Labels: s.Labels}
	for i, t := range s.Trials {
		ht := htmlTrial{N: i + 1, Verdict: t.Verdict, Failure: cleanText(t.Failure), Location: t.Location,
			Duration: fmt.Sprintf("%.1f s", t.Duration), Measurements: t.Measurements, Notes: t.Notes, TimelinePath: t.Timeline}
		if t.Timeline != "" {
			tl, hist, err := loadTimeline(dir, t.Timeline)
			if err != nil { // a report without one timeline beats no report
				ht.Timeline = template.HTML(`<p class="v-failed">timeline unreadable: ` + esc(err.Error()) + `</p>`)
				hs.Trials = append(hs.Trials, ht)
				continue
			}
			ht.Timeline = template.HTML(TimelineSVG(tl, hist)) // built from escaped text only
			ht.Latency = template.HTML(LatencySVG(tl))         // likewise
			ht.Requests = requestsLine(t.Requests)
			if isFailed(t.Verdict) {
				ht.Diagnostics = diagnose(tl, runDir(dir, t.Timeline))
			}
		}
		hs.Trials = append(hs.Trials, ht)
	}
	for _, g := range s.Guarantees() {
		if g.Stats.N > 1 {
			hs.Distributions = append(hs.Distributions, htmlDistribution{
				Name:  g.Name,
				Stats: fmt.Sprintf("%d trials: min %s · p50 %s · p95 %s · max %s %s (bound %s)", g.Stats.N, num(g.Stats.Min), num(g.Stats.P50), num(g.Stats.P95), num(g.Stats.Max), g.Unit, num(g.Bound)),
				SVG:   template.HTML(distributionSVG(g)),
			})
		}
	}
	return hs, nil
}

// loadTimeline reads a timeline and, when the spec drove etcd traffic, its history
// (saved under histories/ with the same file name).
func loadTimeline(dir, rel string) (probe.Timeline, *probe.KVHistory, error) {
	var tl probe.Timeline
	if err := readJSON(filepath.Join(dir, rel), &tl); err != nil {
		return tl, nil, err
	}
	histPath := filepath.Join(runDir(dir, rel), "histories", filepath.Base(rel))
	if _, err := os.Stat(histPath); err != nil {
		return tl, nil, nil
	}
	var h probe.KVHistory
	if err := readJSON(histPath, &h); err != nil {
		return tl, nil, err
	}
	return tl, &h, nil
}

// runDir is the folder of the trial a timeline belongs to (dir, or dir/trial-N): its
// histories and logs lie beside its timelines.
func runDir(dir, timeline string) string {
	return filepath.Join(dir, filepath.Dir(filepath.Dir(timeline)))
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// diagnose collects what a reader of a failed spec looks at first: the fault's events,
// each etcd member's last status and each API server's failed checks during the fault,
// and the control-plane log lines written in the fault window.
func diagnose(tl probe.Timeline, dir string) []diagnostic {
	var ds []diagnostic
	var events strings.Builder
	for _, e := range tl.Events {
		fmt.Fprintf(&events, "%8s  %s\n", secs(e.At), e.Name)
	}
	ds = append(ds, diagnostic{"events", events.String()})
	windows := faultWindows(tl.Events, timelineEnd(tl))
	var status strings.Builder
	for _, name := range tl.SeriesWithPrefix("etcd/") {
		samples := tl.Series[name]
		if len(samples) > 0 {
			last := samples[len(samples)-1]
			fmt.Fprintf(&status, "%s at %s: %s%s\n", name, secs(last.At), last.Value, last.Error)
		}
	}
	if status.Len() > 0 {
		ds = append(ds, diagnostic{"etcd member status at the end", status.String()})
	}
	var checks strings.Builder
	for _, name := range append(tl.SeriesWithPrefix("apiserver/"), "lb") {
		seen := map[string]bool{}
		for _, s := range tl.Series[name] {
			if !s.OK && !seen[s.Error] && inWindows(s.At, windows) {
				seen[s.Error] = true
				fmt.Fprintf(&checks, "%s at %s: %s\n", name, secs(s.At), shorten(s.Error, 300))
			}
		}
	}
	if checks.Len() > 0 {
		ds = append(ds, diagnostic{"failed requests and checks during the fault (first of each kind)", checks.String()})
	}
	if len(windows) > 0 {
		from := tl.Start.Add(windows[0][0] - 5*time.Second)
		to := tl.Start.Add(windows[len(windows)-1][1] + 5*time.Second)
		if lines := componentLogLines(filepath.Join(dir, "logs"), from, to, 120); lines != "" {
			ds = append(ds, diagnostic{fmt.Sprintf("control-plane log lines from 5 s before the fault to 5 s after recovery (%s – %s UTC, warnings and errors)", from.UTC().Format("15:04:05"), to.UTC().Format("15:04:05")), lines})
		}
	}
	return ds
}

func inWindows(at time.Duration, windows [][2]time.Duration) bool {
	for _, w := range windows {
		if at >= w[0] && at <= w[1] {
			return true
		}
	}
	return false
}

// distributionSVG draws a guarantee's trial values on a line from 0 to past its bound:
// a dot per trial (red past the bound), ticks at p50 and p95, the bound in red.
func distributionSVG(g Guarantee) string {
	const w, h, pad = 360.0, 30.0, 10.0
	top := max(g.Bound, g.Stats.Max) * 1.1
	if top == 0 {
		top = 1
	}
	x := func(v float64) float64 { return pad + v/top*(w-2*pad) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="dist" width="%.0f" height="%.0f" role="img">`, w, h)
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="15" y2="15" stroke="#bbb"/>`, pad, w-pad)
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="3" y2="27" stroke="%s" stroke-width="2"><title>bound %s</title></line>`, x(g.Bound), x(g.Bound), colorFailed, esc(num(g.Bound)))
	for _, p := range []struct {
		name string
		v    float64
	}{{"p50", g.Stats.P50}, {"p95", g.Stats.P95}} {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="6" y2="24" stroke="#333"><title>%s %s</title></line>`, x(p.v), x(p.v), p.name, esc(num(p.v)))
	}
	for i, v := range g.Values {
		color, past := colorOK, ""
		switch {
		case !g.ValueWithin(v):
			color, past = colorFailed, " (past the bound)"
		case i < len(g.Verdicts) && verdict.Verdict(g.Verdicts[i]).Broken():
			color, past = colorFailed, " (the trial: "+g.Verdicts[i]+")"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="15" r="4" fill="%s" fill-opacity="0.7"><title>trial %d: %s%s</title></circle>`, x(v), color, i+1, esc(num(v)), past)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"verdictClass": func(v string) string { return "v-" + strings.ReplaceAll(v, " ", "-") },
	"num":          num,
	"verdictText": func(v string) string {
		switch {
		case v == Passed:
			return "✔ passed"
		case v == Skipped:
			return "– skipped"
		case verdict.Verdict(v).Inconclusive():
			return "? " + v
		}
		return "✘ " + v
	},
}).Parse(pageHTML))
