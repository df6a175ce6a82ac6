package reports

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/verdict"
)

// ResultsSchema names the version of Results' JSON. Readers refuse other versions: a
// comparison between two different layouts would silently compare nothing.
const ResultsSchema = "hachaos.dev/results/v2"

// Results is one run's outcome in the form later runs compare against.
type Results struct {
	Schema   string    `json:"schema"`
	Run      RunInfo   `json:"run"`
	Specs    []Spec    `json:"specs"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"durationSeconds"`
	// WallTime splits Duration into where the time went.
	WallTime WallTime `json:"wallTime"`
}

// WallTime is a run's duration broken down: bringing the topology up (or checking it for
// reuse), the faults (from each spec's first injection to its last event: holding the
// fault and waiting for Kubernetes' and etcd's own timeouts and recoveries), and the
// harness itself (readiness gates, workloads, checks, artifacts).
type WallTime struct {
	BringUp float64 `json:"bringUpSeconds"`
	Faults  float64 `json:"faultSeconds"`
	Harness float64 `json:"harnessSeconds"`
}

// RunInfo is what the run ran against.
type RunInfo struct {
	Topology Topology `json:"topology"`
	Versions Versions `json:"versions"`
	Profile  string   `json:"profile"`
	// Seed is Ginkgo's random seed (spec order within containers).
	Seed int64 `json:"seed"`
	// Trials is how many times every spec ran (TRIALS=N).
	Trials      int    `json:"trials"`
	LabelFilter string `json:"labelFilter,omitempty"`
	// Harness is the hachaos that built the reports.
	Harness Harness `json:"harness"`
	// SpecSHA256 is the hash of the Spec as the suite loaded it (spec.json), so two
	// runs can be shown to have tested the same promises.
	SpecSHA256 string `json:"specSHA256,omitempty"`
	// Conditions are what made the run deliberately unlike a real one: a sabotage, or
	// faults disabled. Empty for a run whose verdicts may be reported.
	Conditions RunConditions `json:"conditions"`
}

// Harness is a hachaos build: its version and the commit it was built from.
type Harness struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
}

// RunConditions are written by the suite (RunConditionsFile in the artifacts) when a
// run is a negative control or a self-check, and shown loudly in every report.
type RunConditions struct {
	Sabotage       string   `json:"sabotage,omitempty"`       // HACHAOS_SABOTAGE
	DisabledFaults []string `json:"disabledFaults,omitempty"` // HACHAOS_DISABLE_FAULTS
}

// RunConditionsFile is where the suite writes a run's RunConditions in its artifacts.
const RunConditionsFile = "conditions.json"

// Deliberate says whether the run was sabotaged or ran with faults disabled.
func (c RunConditions) Deliberate() bool { return c.Sabotage != "" || len(c.DisabledFaults) > 0 }

// String names the conditions for people.
func (c RunConditions) String() string {
	var parts []string
	if c.Sabotage != "" {
		parts = append(parts, "sabotage "+c.Sabotage+" applied (a negative control)")
	}
	if len(c.DisabledFaults) > 0 {
		parts = append(parts, "faults disabled: "+strings.Join(c.DisabledFaults, ",")+" (a self-check)")
	}
	return strings.Join(parts, "; ")
}

// Topology is the shape of the cluster under test, and who made it: hachaos (provider
// kind, from its node image) or not (provider existing: reached through a kubeconfig,
// with hachaos' node agent running in it for the run).
type Topology struct {
	Name          string `json:"name"`
	Provider      string `json:"provider"`
	ControlPlanes int    `json:"controlPlanes"`
	Workers       int    `json:"workers"`
	Etcd          string `json:"etcd"` // stacked or external
	EtcdMembers   int    `json:"etcdMembers"`
	LoadBalancer  string `json:"loadBalancer"`
	NodeImage     string `json:"nodeImage,omitempty"` // provider kind
	// AgentImage and AgentNamespace name the node agent the run started in a cluster
	// hachaos did not create (provider existing), and removed after it.
	AgentImage     string `json:"agentImage,omitempty"`
	AgentNamespace string `json:"agentNamespace,omitempty"`
}

// Describe is the topology in one line, as the reports show it.
func (t Topology) Describe() string {
	s := fmt.Sprintf("%d control planes, %d workers, %s etcd (%d members), %s load balancer; provider %s", t.ControlPlanes, t.Workers, t.Etcd, t.EtcdMembers, t.LoadBalancer, t.Provider)
	if t.NodeImage != "" {
		s += ", node image " + t.NodeImage
	}
	if t.AgentImage != "" {
		s += fmt.Sprintf(" (a cluster hachaos did not create; node agent %s in namespace %s, removed after the run)", t.AgentImage, t.AgentNamespace)
	}
	return s
}

// Versions are what the running cluster reported, not what the Spec asked for.
type Versions struct {
	Kubernetes string `json:"kubernetes"`
	Etcd       string `json:"etcd"`
}

// Verdicts of a spec or a guarantee: a spec ends in one of verdict.All. A measured value
// is Passed or Failed against its bound (BoundBroken).
const (
	Passed      = string(verdict.Passed)
	Skipped     = string(verdict.Skipped)
	BoundBroken = "bound broken"
)

// ExitStatus is a run's exit status by its verdicts: 0 when every spec passed (or was
// skipped), 1 when a spec broke a promise (guarantee broken, did not recover), 3 when
// none did but a run proved nothing (fault not in effect, environment not ready). 2 is
// the artifacts' own (unusable reports), given by the scripts.
func (r Results) ExitStatus() int {
	status := 0
	for _, s := range r.Specs {
		switch v := verdict.Verdict(s.Verdict()); {
		case v.Broken():
			return 1
		case v.Inconclusive():
			status = 3
		}
	}
	return status
}

// isFailed reports whether a spec's or trial's verdict is neither passed nor skipped.
func isFailed(v string) bool { return verdict.Verdict(v).Failed() }

// Spec is one guarantee spec (a Ginkgo It) across its trials.
type Spec struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels,omitempty"`
	// File and Line are where the spec (its It) is written, relative to the repository
	// (suites/lb_test.go): what a CI annotation points at.
	File   string  `json:"file,omitempty"`
	Line   int     `json:"line,omitempty"`
	Trials []Trial `json:"trials"`
}

// Trial is one run of a spec.
type Trial struct {
	Verdict  string  `json:"verdict"`
	Failure  string  `json:"failure,omitempty"`
	Location string  `json:"failureLocation,omitempty"`
	Duration float64 `json:"durationSeconds"`
	// Timeline is the path of the timeline JSON, relative to the results file.
	Timeline     string        `json:"timeline,omitempty"`
	Measurements []Measurement `json:"measurements,omitempty"`
	// Requests are each request series' sent and failed requests over the recording
	// (requests through the LB, to each API server, to each worker's NodePort).
	Requests []SeriesRequests `json:"requests,omitempty"`
	// Notes are the spec's other report entries ("measured: ..." in prose, e.g. a
	// refused write's error).
	Notes []Note `json:"notes,omitempty"`
}

// Note is a report entry that is not a Measurement.
type Note struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Verdict is the spec's verdict over all trials (verdict.Combine): a broken promise in
// any trial, then an inconclusive one, then passed; skipped if none ran.
func (s Spec) Verdict() string {
	vs := make([]verdict.Verdict, len(s.Trials))
	for i, t := range s.Trials {
		vs[i] = verdict.Verdict(t.Verdict)
	}
	return string(verdict.Combine(vs...))
}

// FromGinkgo builds Results from the Ginkgo reports of one or more trials of a run.
// Each report is one trial; specs that were skipped or filtered out in every trial are
// left out. Timeline paths are made relative to dir, where the results are written.
func FromGinkgo(trials []types.Report, info RunInfo, dir string) (Results, error) {
	if len(trials) == 0 {
		return Results{}, fmt.Errorf("no Ginkgo report to build results from")
	}
	res := Results{Schema: ResultsSchema, Run: info, Started: trials[0].StartTime}
	res.Run.Trials = len(trials)
	res.Run.Seed = trials[0].SuiteConfig.RandomSeed
	res.Run.LabelFilter = trials[0].SuiteConfig.LabelFilter
	index := map[string]int{}
	for _, r := range trials {
		res.Duration += r.RunTime.Seconds()
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType == types.NodeTypeBeforeSuite {
				res.WallTime.BringUp += sr.RunTime.Seconds()
			}
			if sr.LeafNodeType.Is(types.NodeTypesForSuiteLevelNodes) && sr.State.Is(types.SpecStateFailureStates) {
				// bring-up or artifact collection failed: a report must say so, not
				// show an empty green run
				name := "[" + sr.LeafNodeType.String() + "]"
				index[name] = len(res.Specs)
				res.Specs = append(res.Specs, Spec{Name: name, Trials: []Trial{{Verdict: string(verdict.EnvironmentNotReady), Failure: sr.Failure.Message,
					Location: sr.Failure.Location.String(), Duration: sr.RunTime.Seconds()}}})
				continue
			}
			// Specs the label filter left out are not part of the run; a spec that ran
			// and skipped itself (Skip: "not applicable to this topology") is, and says why.
			filteredOut := sr.State.Is(types.SpecStateSkipped) && sr.Failure.Message == ""
			if sr.LeafNodeType != types.NodeTypeIt || filteredOut || sr.State.Is(types.SpecStatePending) {
				continue
			}
			name := sr.FullText()
			i, ok := index[name]
			if !ok {
				i = len(res.Specs)
				index[name] = i
				res.Specs = append(res.Specs, Spec{Name: name, Labels: sr.Labels(),
					File: repoRelative(sr.LeafNodeLocation.FileName), Line: sr.LeafNodeLocation.LineNumber})
			}
			t, err := trialOf(sr, dir)
			if err != nil {
				return Results{}, fmt.Errorf("spec %q: %w", name, err)
			}
			tl, ok := readTimeline(dir, t.Timeline)
			if ok {
				t.Requests = RequestCounts(tl)
				res.WallTime.Faults += faultSeconds(tl)
			}
			res.Specs[i].Trials = append(res.Specs[i].Trials, t)
		}
	}
	res.WallTime.Harness = max(0, res.Duration-res.WallTime.BringUp-res.WallTime.Faults)
	return res, nil
}

// repoRelative is a spec file's path from the repository's root: the binary records
// where it was compiled (/home/ci/hachaos/suites/lb_test.go), the reader wants
// suites/lb_test.go wherever the repository sits.
func repoRelative(path string) string {
	if i := strings.LastIndex(path, "/suites/"); i >= 0 {
		return path[i+1:]
	}
	return filepath.Base(path)
}

// readTimeline reads a trial's timeline (rel to dir); false when it has none or it
// cannot be read (the HTML report says which).
func readTimeline(dir, rel string) (probe.Timeline, bool) {
	var tl probe.Timeline
	if rel == "" || readJSON(filepath.Join(dir, rel), &tl) != nil {
		return tl, false
	}
	return tl, true
}

// faultSeconds is how long a spec's fault took, from the first injection to the last
// event of its timeline (recovery, rejoin); 0 without one.
func faultSeconds(tl probe.Timeline) float64 {
	var first, last time.Duration = -1, 0
	for _, e := range tl.Events {
		if e.Kind == probe.EventInject && first < 0 {
			first = e.At
		}
		last = max(last, e.At)
	}
	if first < 0 {
		return 0
	}
	return (last - first).Seconds()
}

func trialOf(sr types.SpecReport, dir string) (Trial, error) {
	v, err := VerdictOf(sr)
	if err != nil {
		return Trial{}, err
	}
	t := Trial{Verdict: string(v), Duration: sr.RunTime.Seconds()}
	if sr.State.Is(types.SpecStateFailureStates | types.SpecStateSkipped) {
		t.Failure = sr.Failure.Message
		t.Location = sr.Failure.Location.String()
	}
	for _, e := range sr.ReportEntries {
		switch {
		case e.Name == verdict.EntryName:
			// read by VerdictOf
		case e.Name == "timeline":
			t.Timeline = relativeTo(dir, e.StringRepresentation())
		case strings.HasPrefix(e.Name, MeasurementEntryPrefix) && strings.HasPrefix(e.Value.AsJSON, "{"):
			var m Measurement
			if err := json.Unmarshal([]byte(e.Value.AsJSON), &m); err != nil {
				return Trial{}, fmt.Errorf("report entry %q: %w", e.Name, err)
			}
			t.Measurements = append(t.Measurements, m)
		default:
			t.Notes = append(t.Notes, Note{Name: strings.TrimPrefix(e.Name, MeasurementEntryPrefix), Value: e.StringRepresentation()})
		}
	}
	return t, nil
}

// VerdictOf is how a spec ended: passed, skipped, or — when it failed — the verdict the
// last stage it attached stands for (verdict.EntryName); a failed spec without one
// broke its guarantee. An interrupted or timed-out spec proves nothing: environment
// not ready, unless it had reached a stage that says more.
func VerdictOf(sr types.SpecReport) (verdict.Verdict, error) {
	switch {
	case sr.State.Is(types.SpecStatePassed):
		return verdict.Passed, nil
	case !sr.State.Is(types.SpecStateFailureStates):
		return verdict.Skipped, nil
	}
	v := verdict.GuaranteeBroken
	if sr.State.Is(types.SpecStateInterrupted | types.SpecStateAborted | types.SpecStateTimedout) {
		v = verdict.EnvironmentNotReady
	}
	for _, e := range sr.ReportEntries {
		if e.Name != verdict.EntryName {
			continue
		}
		staged, err := verdict.Parse(e.StringRepresentation())
		if err != nil {
			return "", fmt.Errorf("report entry %q: %w", e.Name, err)
		}
		v = staged
	}
	return v, nil
}

// relativeTo makes path relative to dir, so an artifacts folder can be moved (uploaded,
// downloaded) without breaking its links. A path outside dir (the folder was moved
// since the run) keeps its last elements: "timelines/<file>", "trial-N/timelines/<file>".
func relativeTo(dir, path string) string {
	abs, err := filepath.Abs(dir)
	if err == nil {
		if rel, err := filepath.Rel(abs, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	parent, kind := filepath.Dir(path), filepath.Base(filepath.Dir(path))
	if trial := filepath.Base(filepath.Dir(parent)); strings.HasPrefix(trial, "trial-") {
		return filepath.Join(trial, kind, filepath.Base(path))
	}
	return filepath.Join(kind, filepath.Base(path))
}

// WriteResults writes res as indented JSON.
func WriteResults(path string, res Results) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// ReadResults reads results written by WriteResults, refusing another schema version.
func ReadResults(path string) (Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Results{}, fmt.Errorf("read results: %w", err)
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return Results{}, fmt.Errorf("parse results %s: %w", path, err)
	}
	if res.Schema != ResultsSchema {
		return Results{}, fmt.Errorf("results %s have schema %q; this hachaos reads %q", path, res.Schema, ResultsSchema)
	}
	return res, nil
}

// Guarantee is one measured quantity of a spec over all its trials: what the summary
// table, the JUnit properties and the comparison work on.
type Guarantee struct {
	Spec    string
	Name    string
	Unit    string
	Bound   float64
	AtLeast bool
	// Unbounded: measured without a pass/fail bound (Measurement.Unbounded).
	Unbounded bool
	Formula   string
	// HistorySpread is the widest Measurement.HistorySpread of its trials.
	HistorySpread float64
	Values        []float64 // one per trial that measured it, in trial order
	// Verdicts are those trials' verdicts, beside Values: a value within its bound
	// from a trial that failed (another guarantee broken) is drawn as failed too.
	Verdicts []string
	Stats    Stats
}

// Within reports whether every trial kept the bound.
func (g Guarantee) Within() bool {
	for _, v := range g.Values {
		if !g.ValueWithin(v) {
			return false
		}
	}
	return true
}

// ValueWithin reports whether one trial's value v kept the bound.
func (g Guarantee) ValueWithin(v float64) bool {
	return Measurement{Value: v, Bound: g.Bound, AtLeast: g.AtLeast, Unbounded: g.Unbounded}.Within()
}

// Worst is the value closest to (or furthest past) the bound.
func (g Guarantee) Worst() float64 {
	if g.AtLeast {
		return g.Stats.Min
	}
	return g.Stats.Max
}

// Guarantees lists a spec's measured quantities in the order the spec measured them.
func (s Spec) Guarantees() []Guarantee {
	var out []Guarantee
	index := map[string]int{}
	for _, t := range s.Trials {
		for _, m := range t.Measurements {
			i, ok := index[m.Name]
			if !ok {
				i = len(out)
				index[m.Name] = i
				out = append(out, Guarantee{Spec: s.Name, Name: m.Name, Unit: m.Unit, Bound: m.Bound, AtLeast: m.AtLeast, Unbounded: m.Unbounded, Formula: m.Formula})
			}
			out[i].Values = append(out[i].Values, m.Value)
			out[i].Verdicts = append(out[i].Verdicts, t.Verdict)
			out[i].HistorySpread = max(out[i].HistorySpread, m.HistorySpread)
		}
	}
	for i := range out {
		out[i].Stats = StatsOf(out[i].Values)
	}
	return out
}

// Stats summarize a guarantee's values over trials.
type Stats struct {
	N   int     `json:"n"`
	Min float64 `json:"min"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// StatsOf computes nearest-rank percentiles: with few trials a percentile is one of the
// measured values, never an interpolation nobody measured.
func StatsOf(values []float64) Stats {
	if len(values) == 0 {
		return Stats{}
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(sorted)))) - 1
		return sorted[max(0, min(i, len(sorted)-1))]
	}
	return Stats{N: len(sorted), Min: sorted[0], P50: rank(0.50), P95: rank(0.95), Max: sorted[len(sorted)-1]}
}
