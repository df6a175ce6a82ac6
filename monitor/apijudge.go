package monitor

import (
	"fmt"
	"strings"
	"time"

	"github.com/hachaos/hachaos/apicheck"
	"github.com/hachaos/hachaos/reports"
)

// LinearizeTimeout bounds porcupine's search over one recording's API history; a search
// that runs out leaves the guarantee unjudged — said so, never passed.
const LinearizeTimeout = time.Minute

// JudgeAPI holds the API traffic's history (every call through the LB, every watch
// event) to apicheck's four guarantees: what was checked as notes, and the problem in a
// sentence that names each broken guarantee with the operations that show it ("" when
// all held). A history that could not be judged is a problem too.
func JudgeAPI(h apicheck.History) (notes []reports.Note, problem string) {
	if len(h.Operations) == 0 {
		return nil, "the API traffic recorded no operation: the API consistency guarantees cannot be judged"
	}
	r := apicheck.Check(h, LinearizeTimeout)
	notes = append(notes,
		reports.Note{Name: "API consistency: operations through the LB", Value: fmt.Sprintf("%d (%d acknowledged, %d refused, %d of unknown outcome)", r.Operations, r.Acknowledged, r.Refused, r.Unknown)},
		reports.Note{Name: "API consistency: watch events checked", Value: fmt.Sprintf("%d over %d watchers (%d resumptions, %d relists after 410 Gone, %d watch requests without a stream)", r.Events, len(h.Watches), r.Resumptions, r.Relists, r.FailedWatches)})
	for _, g := range apicheck.Guarantees {
		notes = append(notes, reports.Note{Name: "API consistency: " + string(g), Value: fmt.Sprintf("%d violations", len(r.Broken(g)))})
	}
	switch {
	case len(r.Inconclusive) > 0:
		return notes, "API consistency could not be judged: " + strings.Join(r.Inconclusive, "; ")
	case len(r.Violations) > 0:
		return notes, "the Kubernetes API through the load balancer broke a consistency guarantee: " + excerpt(r.Violations)
	}
	return notes, ""
}

// excerpt is the first few violations with their evidence, for the report; the whole
// history is in the artifacts.
func excerpt(vs []apicheck.Violation) string {
	const shown = 3
	var parts []string
	for _, v := range vs[:min(shown, len(vs))] {
		parts = append(parts, v.String()+" ["+strings.Join(v.Evidence, " | ")+"]")
	}
	if len(vs) > shown {
		parts = append(parts, fmt.Sprintf("and %d more (api-histories/ in the artifacts)", len(vs)-shown))
	}
	return strings.Join(parts, "; ")
}
