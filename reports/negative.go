package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hachaos/hachaos/verdict"
	"github.com/onsi/ginkgo/v2/types"
)

// ReadGinkgoJSON reads a report written with --ginkgo.json-report.
func ReadGinkgoJSON(path string) ([]types.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read Ginkgo report: %w", err)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return nil, fmt.Errorf("parse Ginkgo report %s: %w", path, err)
	}
	return reports, nil
}

// ExpectDetected checks a negative control's outcome: the spec whose text contains spec
// must have run and ended with a broken promise (guarantee broken, did not recover)
// whose message contains reason. A sabotage that passes, fails for another reason, or
// ends inconclusive (the fault not in effect, the environment not ready) means the
// guarantee's check cannot be trusted, or was not exercised.
func ExpectDetected(reports []types.Report, spec, reason string) error {
	var found []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt || !strings.Contains(s.FullText(), spec) {
				continue
			}
			v, err := VerdictOf(s)
			if err != nil {
				return err
			}
			switch {
			case s.State.Is(types.SpecStateFailed) && strings.Contains(s.Failure.Message, reason) && v.Broken():
				return nil
			case s.State.Is(types.SpecStateFailed) && strings.Contains(s.Failure.Message, reason):
				found = append(found, fmt.Sprintf("%q failed for that reason but ended %q, not a broken guarantee", s.FullText(), v))
			case s.State.Is(types.SpecStateFailed):
				found = append(found, fmt.Sprintf("%q failed for another reason: %s", s.FullText(), firstLine(s.Failure.Message)))
			default:
				found = append(found, fmt.Sprintf("%q ended %s", s.FullText(), s.State))
			}
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("no spec matching %q ran%s", spec, suiteSetupFailures(reports))
	}
	return fmt.Errorf("sabotage not detected (want a failure mentioning %q): %s", reason, strings.Join(found, "; "))
}

// suiteSetupFailures names the suite-level nodes (BeforeSuite and the like) that failed,
// with their messages: why no spec ran, which is what a reader of a CI log needs first
// (a sabotage whose Inject failed ends the suite there).
func suiteSetupFailures(reports []types.Report) string {
	var out []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType.Is(types.NodeTypesForSuiteLevelNodes) && s.State.Is(types.SpecStateFailureStates) {
				out = append(out, fmt.Sprintf("%s failed: %s", s.LeafNodeType, s.Failure.Message))
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}

// ExpectNotInEffect checks the self-check's outcome (every fault's Inject disabled):
// every fault spec (label disruptive) that ran must end "fault not in effect". A spec
// that passes, or reports a broken guarantee, without its fault judged a fault that
// never happened.
func ExpectNotInEffect(reports []types.Report) ([]string, error) {
	var right, wrong []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt || !slices.Contains(s.Labels(), "disruptive") || s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
				continue
			}
			v, err := VerdictOf(s)
			if err != nil {
				return nil, err
			}
			if v == verdict.FaultNotInEffect {
				right = append(right, fmt.Sprintf("%s: %s", s.FullText(), firstLine(cleanText(s.Failure.Message))))
				continue
			}
			wrong = append(wrong, fmt.Sprintf("%q ended %q: %s", s.FullText(), v, firstLine(cleanText(s.Failure.Message))))
		}
	}
	if len(right)+len(wrong) == 0 {
		return nil, fmt.Errorf("no fault spec ran")
	}
	if len(wrong) > 0 {
		return right, fmt.Errorf("%d of %d fault specs did not notice that their fault did nothing:\n  %s", len(wrong), len(right)+len(wrong), strings.Join(wrong, "\n  "))
	}
	return right, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
