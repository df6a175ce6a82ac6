package suites

import (
	"fmt"
	"strings"
	"time"

	"github.com/hachaos/hachaos/apicheck"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/verdict"
)

// linearizeTimeout bounds porcupine's search over one spec's API history; a search that
// runs out leaves the guarantee unjudged, said so in the report, never passed.
const linearizeTimeout = time.Minute

// judgeAPIConsistency holds the API traffic's history (every call through the LB, every
// watch event) to apicheck's four guarantees. Each violation names the guarantee and the
// operations that show it; the whole history is in the artifacts (api-histories/).
func judgeAPIConsistency(h apicheck.History) judgement {
	if len(h.Operations) == 0 {
		return judged(verdict.GuaranteeBroken, "the API traffic recorded no operation: the API consistency guarantees cannot be judged")
	}
	r := apicheck.Check(h, linearizeTimeout)
	j := passed(0)
	j.Notes = append(j.Notes,
		reports.Note{Name: "API consistency: operations through the LB", Value: fmt.Sprintf("%d (%d acknowledged, %d refused, %d of unknown outcome)", r.Operations, r.Acknowledged, r.Refused, r.Unknown)},
		reports.Note{Name: "API consistency: watch events checked", Value: fmt.Sprintf("%d over %d watchers (%d resumptions, %d relists after 410 Gone, %d watch requests without a stream)", r.Events, len(h.Watches), r.Resumptions, r.Relists, r.FailedWatches)})
	for _, g := range apicheck.Guarantees {
		j.Notes = append(j.Notes, reports.Note{Name: "API consistency: " + string(g), Value: fmt.Sprintf("%d violations", len(r.Broken(g)))})
	}
	if len(r.Inconclusive) > 0 {
		return judged(verdict.GuaranteeBroken, "API consistency could not be judged: %s", strings.Join(r.Inconclusive, "; "))
	}
	if len(r.Violations) > 0 {
		j.Verdict, j.Reason = verdict.GuaranteeBroken, "the Kubernetes API through the load balancer broke a consistency guarantee: "+excerpt(r.Violations)
	}
	return j
}

// excerpt is the first few violations with their evidence, for the report.
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
