package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func resultsWith(t *testing.T, specs ...types.SpecReport) Results {
	return sampleResults(t, ginkgoRun(t, specs...))
}

func TestCompare(t *testing.T) {
	budget := Budget{Relative: 0.5, Absolute: time.Second}
	at := func(v float64) Measurement { m := leaderCrash; m.Value = v; return m }
	base := resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, "", at(1.5)), specRun("stops a follower", types.SpecStatePassed, ""))
	tests := []struct {
		name      string
		candidate Results
		problem   string // "" = must pass
	}{
		{"same times", resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, "", at(1.6)), specRun("stops a follower", types.SpecStatePassed, "")), ""},
		{"slower within budget (1.5 × 1.5 + 1 = 3.25 s)", resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, "", at(3.2)), specRun("stops a follower", types.SpecStatePassed, "")), ""},
		{"p95 regression", resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, "", at(3.5)), specRun("stops a follower", types.SpecStatePassed, "")), "p95 regressed 1.5 → 3.5 s (+133 %), budget allows 3.25 s"},
		{"guarantee broken", resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, "", at(1.5)), specRun("stops a follower", types.SpecStateFailed, "writes lost")), "broken on"},
		{"bound exceeded", resultsWith(t, specRun("crashes the leader", types.SpecStateFailed, "slow", at(5)), specRun("stops a follower", types.SpecStatePassed, "")), "outside its bound"},
		{"spec not run", resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, "", at(1.5))), "not run on"},
		{"guarantee not measured by a failed spec", resultsWith(t, specRun("crashes the leader", types.SpecStateFailed, "stuck"), specRun("stops a follower", types.SpecStatePassed, "")), "not measured on"},
		{"guarantee not measured by a passed spec", resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, ""), specRun("stops a follower", types.SpecStatePassed, "")), ""},
	}
	for _, tt := range tests {
		c := Compare(base, tt.candidate, "v1.36.3", "v1.37.2", budget)
		switch {
		case tt.problem == "" && !c.Passed():
			t.Errorf("%s: want pass, got %s", tt.name, c.Verdict())
		case tt.problem != "" && (c.Passed() || !strings.Contains(c.Verdict(), tt.problem)):
			t.Errorf("%s: want a failure mentioning %q, got %s", tt.name, tt.problem, c.Verdict())
		}
	}
}
