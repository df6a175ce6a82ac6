package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/existing"
)

// reportOptions are report's flags; monitor, run and soak build their reports with them.
type reportOptions struct {
	baseline, config string
	browser          bool
}

func newReportCommand() *cobra.Command {
	var o reportOptions
	c := &cobra.Command{
		Use:     "report DIR",
		Short:   "results.json, junit.xml, report.html, summary.md from DIR's Ginkgo report(s)",
		GroupID: "reports",
		Args:    exactArgs(1),
		RunE:    func(_ *cobra.Command, args []string) error { return report(o, args[0]) },
	}
	c.Flags().StringVar(&o.baseline, "baseline", "", "results.json of an earlier run to compare with (adds a comparison; fails on a regression)")
	addConfigFlag(c.Flags(), &o.config, "topology Spec file (for the regression budget)")
	c.Flags().BoolVar(&o.browser, "browser-check", true, "render report.html in headless Chromium, keep screenshot.png and fail unless the summary and every timeline show")
	return c
}

// report builds a run's results.json, junit.xml, report.html and summary.md from the
// Ginkgo JSON report(s) in an artifacts folder: DIR/report.json for one trial, or
// DIR/trial-N/report.json for several (TRIALS=N). With a baseline it prints the
// comparison and fails when the comparison does.
func report(o reportOptions, dir string) error {
	cmp, err := buildReports(o, dir)
	if cmp != nil && !cmp.Passed() {
		return errors.Join(errors.New("comparison failed"), err)
	}
	return err
}

// buildReports is report without the comparison's verdict: the comparison (nil without
// a baseline), and what kept the reports from being written or checked.
func buildReports(o reportOptions, dir string) (*reports.Comparison, error) {
	trialDirs, err := findTrials(dir)
	if err != nil {
		return nil, err
	}
	var trials []types.Report
	for _, td := range trialDirs {
		r, err := reports.ReadGinkgoJSON(filepath.Join(td, "report.json"))
		if err != nil {
			return nil, err
		}
		trials = append(trials, r...)
	}
	info, err := runInfo(trialDirs[0])
	if err != nil {
		return nil, err
	}
	res, err := reports.FromGinkgo(trials, info, dir)
	if err != nil {
		return nil, err
	}
	var cmp *reports.Comparison
	if o.baseline != "" {
		c, err := compareWith(o.baseline, res, o.config)
		if err != nil {
			return nil, err
		}
		cmp = &c
	}
	if err := writeReports(dir, res, cmp); err != nil {
		return cmp, err
	}
	if cmp != nil {
		fmt.Print(cmp.Text())
	}
	if !o.browser {
		return cmp, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return cmp, err
	}
	check, err := reports.CheckInBrowser(context.Background(), filepath.Join(abs, "report.html"), filepath.Join(abs, "screenshot.png"), res)
	if err != nil {
		return cmp, err
	}
	fmt.Printf("Chromium shows the summary (%d rows) and %d of %d timelines painted; screenshot %s\n",
		check.SummaryRows, check.PaintedTimelines, check.Timelines, check.Screenshot)
	return cmp, nil
}

func writeReports(dir string, res reports.Results, cmp *reports.Comparison) error {
	outputs := []struct {
		name  string
		write func(path string) error
	}{
		{"results.json", func(p string) error { return reports.WriteResults(p, res) }},
		{"junit.xml", func(p string) error { return reports.WriteJUnit(p, res) }},
		{"report.html", func(p string) error { return reports.WriteHTML(p, res, dir, cmp) }},
		{"summary.md", func(p string) error { return os.WriteFile(p, []byte(reports.Markdown(res, cmp)), 0o644) }},
	}
	for _, o := range outputs {
		path := filepath.Join(dir, o.name)
		if err := o.write(path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Println("wrote", path)
	}
	return nil
}

// findTrials lists the folders holding a Ginkgo report: dir itself, or its trial-N
// subfolders in trial order.
func findTrials(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil {
		return []string{dir}, nil
	}
	found, _ := filepath.Glob(filepath.Join(dir, "trial-*", "report.json"))
	if len(found) == 0 {
		return nil, fmt.Errorf("no Ginkgo report in %s (report.json or trial-N/report.json): did the suite run?", dir)
	}
	dirs := make([]string, len(found))
	for i, f := range found {
		dirs[i] = filepath.Dir(f)
	}
	sort.Slice(dirs, func(i, j int) bool { return trialNumber(dirs[i]) < trialNumber(dirs[j]) })
	return dirs, nil
}

func trialNumber(dir string) int {
	var n int
	fmt.Sscanf(strings.TrimPrefix(filepath.Base(dir), "trial-"), "%d", &n)
	return n
}

// runInfo reads the Spec and the versions the suite recorded in a trial folder.
func runInfo(dir string) (reports.RunInfo, error) {
	var spec topology.Spec
	if err := readJSONFile(filepath.Join(dir, "spec.json"), &spec); err != nil {
		return reports.RunInfo{}, err
	}
	specJSON, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		return reports.RunInfo{}, err
	}
	// Written only by a sabotaged or self-check run; its absence is an ordinary run.
	var conditions reports.RunConditions
	if _, err := os.Stat(filepath.Join(dir, reports.RunConditionsFile)); err == nil {
		if err := readJSONFile(filepath.Join(dir, reports.RunConditionsFile), &conditions); err != nil {
			return reports.RunInfo{}, err
		}
	}
	// versions.json is written once the topology is up; a run whose bring-up failed
	// still gets its reports, with the versions unknown.
	var versions reports.Versions
	if err := readJSONFile(filepath.Join(dir, "versions.json"), &versions); err != nil {
		versions = reports.Versions{Kubernetes: "unknown (" + spec.Kubernetes.Version + " asked for)", Etcd: "unknown"}
	}
	return reports.RunInfo{
		Topology:   topologyOf(spec),
		Versions:   versions,
		Profile:    spec.Profile,
		Harness:    harness(),
		SpecSHA256: fmt.Sprintf("%x", sha256.Sum256(specJSON)),
		Conditions: conditions,
	}, nil
}

func readJSONFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

func newMergeCommand() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:     "merge --out DIR SHARD…",
		Short:   "one run's reports from its shards' (each SHARD/results.json, same Spec and build); exit status by the merged verdicts",
		GroupID: "reports",
		Args:    minArgs(1),
		RunE:    func(_ *cobra.Command, args []string) error { return merge(out, args) },
	}
	c.Flags().StringVar(&out, "out", "", "folder for the merged reports (required)")
	return c
}

// merge writes one run's reports (results.json, junit.xml, report.html, summary.md) into
// --out from the reports of the shards it ran as (the nightly workflow's jobs, one per
// label group), and exits by the merged verdicts: 0 passed, 1 a broken promise, 3 only
// inconclusive ones.
func merge(outDir string, shardDirs []string) error {
	if err := requireFlags("merge", map[string]string{"--out": outDir}); err != nil {
		return err
	}
	var shards []reports.Shard
	for _, dir := range shardDirs {
		res, err := reports.ReadResults(filepath.Join(dir, "results.json"))
		if err != nil {
			return err
		}
		shards = append(shards, reports.Shard{Dir: dir, Results: res})
	}
	merged, err := reports.Merge(shards, outDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := writeReports(outDir, merged, nil); err != nil {
		return err
	}
	switch merged.ExitStatus() {
	case 1:
		return checkFailed{errors.New("a promise was broken in a shard (see the merged report)")}
	case 3:
		return notReady{errors.New("a shard proved nothing for some specs (fault not in effect or environment not ready)")}
	}
	return nil
}

// compareOptions are compare's flags.
type compareOptions struct {
	config     string
	sideBySide bool
}

func newCompareCommand() *cobra.Command {
	var o compareOptions
	c := &cobra.Command{
		Use:   "compare BASE.json CAND.json",
		Short: "compare two results.json; fail on a broken guarantee or a p95 regression (--side-by-side: judge nothing, both runs' p50 / p95 per guarantee)",
		Long: `Compare two results.json: fail on a broken guarantee or a p95 regression beyond the
Spec's certification budget that is also significant (one-sided Mann–Whitney, p ≤ 0.05,
at least 3 trials a side); a value whose spread on BASE alone exceeds the budget is
reported "too noisy to judge", not as a regression. With --side-by-side, judge nothing: print both runs' p50 / p95
per guarantee, and the etcd layouts' reason where they differ (make compare-topologies).`,
		GroupID: "reports",
		Args:    exactArgs(2),
		RunE:    func(_ *cobra.Command, args []string) error { return compare(o, args[0], args[1]) },
	}
	addConfigFlag(c.Flags(), &o.config, "topology Spec file (for the regression budget)")
	c.Flags().BoolVar(&o.sideBySide, "side-by-side", false, "judge nothing: a Markdown table of both runs' p50 / p95 per guarantee, with the layouts' reason where they differ (stacked vs external etcd)")
	return c
}

// compare compares two saved results.json (e.g. tonight's with last week's) and fails
// on a broken guarantee or a regression beyond the Spec's certification budget.
func compare(o compareOptions, basePath, candPath string) error {
	cand, err := reports.ReadResults(candPath)
	if err != nil {
		return err
	}
	if o.sideBySide {
		base, err := reports.ReadResults(basePath)
		if err != nil {
			return err
		}
		fmt.Print(reports.CompareSideBySide(base, cand, sideLabel(base), sideLabel(cand)).Markdown())
		return nil
	}
	c, err := compareWith(basePath, cand, o.config)
	if err != nil {
		return err
	}
	fmt.Print(c.Text())
	if !c.Passed() {
		return checkFailed{errors.New("comparison failed")}
	}
	return nil
}

func compareWith(baselinePath string, cand reports.Results, config string) (reports.Comparison, error) {
	base, err := reports.ReadResults(baselinePath)
	if err != nil {
		return reports.Comparison{}, err
	}
	spec, err := topology.Load(config)
	if err != nil {
		return reports.Comparison{}, err
	}
	budget := reports.Budget{Relative: spec.Certification.P95Regression, Absolute: spec.Certification.P95Slack.Duration}
	return reports.Compare(base, cand, runLabel(base), runLabel(cand), budget), nil
}

// sideLabel names a run by its etcd layout and Kubernetes version.
func sideLabel(r reports.Results) string {
	return fmt.Sprintf("%s etcd (%s, %d trials)", r.Run.Topology.Etcd, r.Run.Versions.Kubernetes, r.Run.Trials)
}

// runLabel names a run by its Kubernetes version, with its start time when both sides
// run the same version (a nightly compared with last week's).
func runLabel(r reports.Results) string {
	return fmt.Sprintf("%s (%s)", r.Run.Versions.Kubernetes, r.Started.UTC().Format("2006-01-02 15:04"))
}

// topologyOf is the run's topology as the reports name it: a kind cluster by its node
// image; one hachaos did not create by the node agent the run started in it.
func topologyOf(spec topology.Spec) reports.Topology {
	t := reports.Topology{
		Name: spec.Name, Provider: spec.Provider, ControlPlanes: spec.ControlPlanes, Workers: spec.Workers,
		Etcd: string(spec.Etcd.Mode), EtcdMembers: spec.Etcd.Members, LoadBalancer: string(spec.LoadBalancer.Type),
	}
	if spec.Provider == topology.ProviderExisting {
		t.AgentImage, t.AgentNamespace = spec.Agent.Image, existing.AgentNamespace
		return t
	}
	t.Provider, t.NodeImage = topology.ProviderKind, spec.Kubernetes.Image()
	return t
}
