package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

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
// must have run and failed with a message containing reason. A sabotage that passes, or
// fails for another reason, means the guarantee's check cannot be trusted.
func ExpectDetected(reports []types.Report, spec, reason string) error {
	var found []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt || !strings.Contains(s.FullText(), spec) {
				continue
			}
			switch {
			case s.State.Is(types.SpecStateFailed) && strings.Contains(s.Failure.Message, reason):
				return nil
			case s.State.Is(types.SpecStateFailed):
				found = append(found, fmt.Sprintf("%q failed for another reason: %s", s.FullText(), firstLine(s.Failure.Message)))
			default:
				found = append(found, fmt.Sprintf("%q ended %s", s.FullText(), s.State))
			}
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("no spec matching %q ran", spec)
	}
	return fmt.Errorf("sabotage not detected (want a failure mentioning %q): %s", reason, strings.Join(found, "; "))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
