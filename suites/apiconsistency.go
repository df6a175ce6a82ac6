package suites

import (
	"github.com/hachaos/hachaos/apicheck"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/verdict"
)

// judgeAPIConsistency holds the API traffic's history to apicheck's four guarantees
// (monitor.JudgeAPI, the same judge `hachaos monitor` uses); the whole history is in
// the artifacts (api-histories/).
func judgeAPIConsistency(h apicheck.History) judgement {
	notes, problem := monitor.JudgeAPI(h)
	j := passed(0)
	j.Notes = notes
	if problem != "" {
		j.Verdict, j.Reason = verdict.GuaranteeBroken, problem
	}
	return j
}
