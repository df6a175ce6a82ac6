package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// The monitor writes its run as a Ginkgo JSON report of one spec, so `hachaos report`
// builds the same results.json, junit.xml and report.html from it as from a suite run:
// the same verdict and measurement entries, the same timeline.

// SpecReport is one monitored run as a Ginkgo spec report: labelled "monitor", its
// verdict, failure, measurements, notes and the timeline's path as report entries.
func SpecReport(name string, start, end time.Time, j Judgement, timelinePath string) types.SpecReport {
	sr := types.SpecReport{
		ContainerHierarchyTexts:  []string{"Disruption monitor"},
		ContainerHierarchyLabels: [][]string{{"monitor"}},
		LeafNodeType:             types.NodeTypeIt,
		LeafNodeText:             name,
		State:                    types.SpecStatePassed,
		StartTime:                start,
		EndTime:                  end,
		RunTime:                  end.Sub(start),
	}
	entry := func(name string, v any) {
		sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{Name: name, Value: types.WrapEntryValue(v), Time: end, Visibility: types.ReportEntryVisibilityAlways})
	}
	entry(verdict.EntryName, string(j.Verdict))
	for _, m := range j.Measured {
		entry(reports.MeasurementEntryPrefix+m.Name, m)
	}
	for _, n := range j.Notes {
		entry(reports.MeasurementEntryPrefix+n.Name, n.Value)
	}
	if timelinePath != "" {
		entry("timeline", timelinePath)
	}
	if j.Verdict != verdict.Passed {
		sr.State = types.SpecStateFailed
		sr.Failure = types.Failure{Message: fmt.Sprintf("%s: %s", j.Verdict, j.Reason)}
	}
	return sr
}

// WriteGinkgoReport writes the run as DIR/report.json.
func WriteGinkgoReport(dir string, start, end time.Time, specs ...types.SpecReport) error {
	r := types.Report{SuitePath: "hachaos monitor", SuiteDescription: "Disruption monitor", SuiteSucceeded: true,
		StartTime: start, EndTime: end, RunTime: end.Sub(start), SpecReports: specs}
	for _, s := range specs {
		if s.State.Is(types.SpecStateFailureStates) {
			r.SuiteSucceeded = false
		}
	}
	data, err := json.MarshalIndent([]types.Report{r}, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.json"), data, 0o644)
}

// SaveJSON writes v to DIR/kind/<name>.json (the suites' layout) and returns the path.
func SaveJSON(dir, kind, name string, v any) (string, error) {
	path := filepath.Join(dir, kind, strings.NewReplacer(" ", "-", "/", "-").Replace(name)+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, data, 0o644)
}

// ReadVersions asks the running cluster for its Kubernetes and etcd versions: a Spec
// says what was asked for, not what runs.
func ReadVersions(ctx context.Context, p cluster.Provider) (reports.Versions, error) {
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return reports.Versions{}, err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return reports.Versions{}, err
	}
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		return reports.Versions{}, fmt.Errorf("ask the API server for its version: %w", err)
	}
	versions := reports.Versions{Kubernetes: v.GitVersion}
	access, err := p.Etcd(ctx)
	if err != nil {
		return versions, err
	}
	ec, err := access.Client()
	if err != nil {
		return versions, err
	}
	defer ec.Close()
	for _, endpoint := range access.Endpoints() {
		if st, err := ec.Status(ctx, endpoint); err == nil {
			versions.Etcd = st.Version
			return versions, nil
		}
	}
	return versions, fmt.Errorf("no etcd member reported its version")
}
