package reports

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hachaos/hachaos/verdict"
	"github.com/onsi/ginkgo/v2/types"
)

// ginkgoRun builds a Ginkgo report as the suites write it (JSON round trip included, so
// report entries carry AsJSON as they do when read from disk).
func ginkgoRun(t *testing.T, specs ...types.SpecReport) types.Report {
	t.Helper()
	r := types.Report{StartTime: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC), RunTime: 90 * time.Second, SpecReports: specs}
	r.SuiteConfig.RandomSeed = 42
	data, err := json.Marshal([]types.Report{r})
	if err != nil {
		t.Fatal(err)
	}
	var back []types.Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	return back[0]
}

func specRun(text string, state types.SpecState, failure string, ms ...Measurement) types.SpecReport {
	sr := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, RunTime: 12 * time.Second,
		LeafNodeLabels: []string{"etcd", "disruptive"}}
	if failure != "" {
		sr.Failure = types.Failure{Message: failure}
	}
	for _, m := range ms {
		sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{Name: MeasurementEntryPrefix + m.Name, Value: types.WrapEntryValue(m)})
	}
	sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{Name: "measured: writes", Value: types.WrapEntryValue("184 acknowledged")})
	return sr
}

var leaderCrash = Measurement{Name: "new leader elected after", Value: 1.5, Unit: "s", Bound: 4, Formula: "2 × 2 × election timeout"}

func sampleResults(t *testing.T, trials ...types.Report) Results {
	t.Helper()
	res, err := FromGinkgo(trials, RunInfo{Topology: Topology{Name: "hachaos", Etcd: "stacked"}, Versions: Versions{Kubernetes: "v1.37.2", Etcd: "3.6.5"}, Profile: "fast"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestFromGinkgoKeepsMeasurementsPerTrial(t *testing.T) {
	second := leaderCrash
	second.Value = 2.5
	res := sampleResults(t,
		ginkgoRun(t, specRun("crashes the leader", types.SpecStatePassed, "", leaderCrash), specRun("skipped", types.SpecStateSkipped, "")),
		ginkgoRun(t, specRun("crashes the leader", types.SpecStateFailed, "no new etcd leader", second)))
	if res.Schema != ResultsSchema || res.Run.Trials != 2 || res.Run.Seed != 42 {
		t.Fatalf("run info: %+v", res.Run)
	}
	if len(res.Specs) != 1 {
		t.Fatalf("want the skipped spec left out, got %d specs", len(res.Specs))
	}
	s := res.Specs[0]
	if s.Verdict() != string(verdict.GuaranteeBroken) || len(s.Trials) != 2 {
		t.Fatalf("verdict %s over %d trials, want failed over 2", s.Verdict(), len(s.Trials))
	}
	g := s.Guarantees()
	if len(g) != 1 || g[0].Stats.N != 2 || g[0].Stats.Max != 2.5 || g[0].Formula == "" {
		t.Fatalf("guarantees: %+v", g)
	}
	if len(s.Trials[0].Notes) != 1 || s.Trials[0].Notes[0].Name != "writes" {
		t.Fatalf("prose entries must become notes: %+v", s.Trials[0].Notes)
	}
}

func TestResultsRoundTripAndSchemaCheck(t *testing.T) {
	res := sampleResults(t, ginkgoRun(t, specRun("crashes the leader", types.SpecStatePassed, "", leaderCrash)))
	path := filepath.Join(t.TempDir(), "results.json")
	if err := WriteResults(path, res); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(path)
	if err != nil || !reflect.DeepEqual(back.Specs[0].Trials[0].Measurements[0], leaderCrash) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	os.WriteFile(path, []byte(`{"schema":"hachaos.dev/results/v0"}`), 0o644)
	if _, err := ReadResults(path); err == nil || !strings.Contains(err.Error(), "v0") {
		t.Fatalf("another schema version must be refused, got %v", err)
	}
}

func TestStatsNearestRank(t *testing.T) {
	s := StatsOf([]float64{5, 1, 4, 2, 3})
	if s.N != 5 || s.Min != 1 || s.P50 != 3 || s.P95 != 5 || s.Max != 5 {
		t.Fatalf("got %+v", s)
	}
	if s := StatsOf([]float64{7}); s.P50 != 7 || s.P95 != 7 {
		t.Fatalf("one value: %+v", s)
	}
}

func TestMeasurementBounds(t *testing.T) {
	if !(Measurement{Value: 3, Bound: 3, AtLeast: true}).Within() || (Measurement{Value: 2, Bound: 3, AtLeast: true}).Within() {
		t.Fatal("a lower bound holds at and above the bound only")
	}
	if m := (Measurement{Value: 1, Bound: 4, Unit: "s"}); !m.Within() || m.Margin() != 0.75 || m.String() != "1 s (bound ≤ 4 s)" {
		t.Fatalf("upper bound: %v %v %q", m.Within(), m.Margin(), m.String())
	}
}

// The JUnit must pass the schema Jenkins' xUnit plugin enforces; xmllint (Debian
// libxml2-utils, installed by scripts/setup-docker.sh) checks it.
func TestJUnitValidatesAgainstSchema(t *testing.T) {
	res := sampleResults(t,
		ginkgoRun(t, specRun("crashes the <leader> & checks", types.SpecStateFailed, "\x1b[31mscheduler Lease held by nobody for 31.2 s\x1b[0m; bound 19.4 s\nmore", leaderCrash),
			specRun("stops a follower", types.SpecStatePassed, "", leaderCrash)))
	data, err := JUnit(res)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{`tests="2"`, `failures="1"`, `message="scheduler Lease held by nobody for 31.2 s; bound 19.4 s"`,
		`crashes the &lt;leader&gt; &amp; checks › new leader elected after`, `1.5 s (bound ≤ 4 s = 2 × 2 × election timeout)`} {
		if !strings.Contains(text, want) {
			t.Errorf("JUnit lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b") || strings.Contains(text, "status=") || strings.Contains(text, "disabled=") {
		t.Errorf("JUnit carries terminal codes or attributes the schema rejects:\n%s", text)
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is needed to validate JUnit (Debian: libxml2-utils)")
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	os.WriteFile(path, data, 0o644)
	if out, err := exec.Command(xmllint, "--noout", "--schema", "schema/junit-10.xsd", path).CombinedOutput(); err != nil {
		t.Fatalf("JUnit does not validate: %v\n%s", err, out)
	}
}

// With trials, every trial is a test case of its own: a flake is the one failed case
// beside the passed ones, and the counts are the cases'.
func TestJUnitHasACasePerTrial(t *testing.T) {
	res := sampleResults(t,
		ginkgoRun(t, specRun("crashes the leader", types.SpecStatePassed, "", leaderCrash)),
		ginkgoRun(t, specRun("crashes the leader", types.SpecStateFailed, "no new leader", leaderCrash)),
		ginkgoRun(t, specRun("crashes the leader", types.SpecStatePassed, "", leaderCrash)))
	data, err := JUnit(res)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{`tests="3" failures="1"`, `name="crashes the leader [trial 1 of 3]"`, `name="crashes the leader [trial 2 of 3]"`,
		`name="crashes the leader [trial 3 of 3]"`, `message="no new leader"`, `3 trials: p50`} {
		if !strings.Contains(text, want) {
			t.Errorf("JUnit lacks %s:\n%s", want, text)
		}
	}
}

func TestExitStatusFollowsTheVerdicts(t *testing.T) {
	run := func(vs ...verdict.Verdict) Results {
		var res Results
		for _, v := range vs {
			res.Specs = append(res.Specs, Spec{Name: string(v), Trials: []Trial{{Verdict: string(v)}}})
		}
		return res
	}
	cases := []struct {
		res  Results
		want int
	}{
		{run(verdict.Passed, verdict.Skipped), 0},
		{run(verdict.Passed, verdict.FaultNotInEffect), 3},
		{run(verdict.EnvironmentNotReady, verdict.DidNotRecover), 1},
		{run(verdict.GuaranteeBroken, verdict.FaultNotInEffect), 1},
	}
	for i, c := range cases {
		if got := c.res.ExitStatus(); got != c.want {
			t.Errorf("case %d: exit status %d, want %d", i, got, c.want)
		}
	}
}

func TestASpecThatSkippedItselfIsReportedWithItsReason(t *testing.T) {
	res := sampleResults(t, ginkgoRun(t,
		specRun("filtered out by the label filter", types.SpecStateSkipped, ""),
		specRun("LB rerouting on kind's load balancer", types.SpecStateSkipped, "LB rerouting is measured on hachaos' HAProxy")))
	if len(res.Specs) != 1 || res.Specs[0].Verdict() != Skipped || res.Specs[0].Trials[0].Failure == "" {
		t.Fatalf("want the self-skipped spec kept with its reason, the filtered one left out: %+v", res.Specs)
	}
}
