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
		{"one trial a side over the budget: too few to claim a regression", resultsWith(t, specRun("crashes the leader", types.SpecStatePassed, "", at(3.5)), specRun("stops a follower", types.SpecStatePassed, "")), ""},
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

func guaranteeOf(values ...float64) Guarantee {
	return Guarantee{Name: "new leader", Unit: "s", Values: values, Stats: StatsOf(values)}
}

func withHistory(g Guarantee, spread float64) Guarantee { g.HistorySpread = spread; return g }

func TestRegressionNeedsTrialsSignificanceAndAQuietBaseline(t *testing.T) {
	budget := Budget{Relative: 0.5, Absolute: time.Second}
	cases := []struct {
		name       string
		base, cand Guarantee
		problem    bool
		says       string
	}{
		{"every TO trial slower than every FROM trial, beyond the budget", guaranteeOf(1.2, 1.3, 1.4), guaranteeOf(4.1, 4.5, 5.0), true, "significant (one-sided Mann–Whitney p = 0.050"},
		{"over the budget at p95 but overlapping", guaranteeOf(1.2, 1.3, 1.4, 1.3, 1.2), guaranteeOf(1.1, 1.2, 1.3, 1.2, 4.5), false, "not significant"},
		{"a baseline spread wider than the budget (the stacked rejoin, 21.7–57.8 s)", guaranteeOf(21.7, 43, 57.8), guaranteeOf(60, 90, 136), false, "too noisy to judge"},
		{"one sample a side", guaranteeOf(21.7), guaranteeOf(57.8), false, "too few"},
		{"within the budget", guaranteeOf(1.2, 1.3, 1.4), guaranteeOf(1.5, 1.6, 1.7), false, ""},
		// certification run6: a crashed stacked leader rejoined in 1.7–2.4 s on FROM and
		// 12.4–13.5 s on the upgraded cluster, whose members had just been restarted: the
		// kubelet's back-off (10 s) decides it, as 11.6–14 s in a third of FROM trials before
		{"a quiet baseline, but the kubelet's back-off may add 10 s", withHistory(guaranteeOf(2.37, 1.73, 1.65), 10), withHistory(guaranteeOf(13.5, 13.0, 12.4), 10), false, "too noisy to judge: its own history may add 0–10 s"},
		{"the same without a history spread is a regression", guaranteeOf(2.37, 1.73, 1.65), guaranteeOf(13.5, 13.0, 12.4), true, "p95 regressed"},
		{"a history spread inside the budget leaves the test to decide", withHistory(guaranteeOf(1.2, 1.3, 1.4), 0.5), withHistory(guaranteeOf(4.1, 4.5, 5.0), 0.5), true, "significant"},
	}
	for _, c := range cases {
		finding, problem := budget.regressionFinding(c.base, c.cand)
		if problem != c.problem || !strings.Contains(finding, c.says) {
			t.Errorf("%s: problem %v, finding %q; want %v saying %q", c.name, problem, finding, c.problem, c.says)
		}
	}
}

func TestMannWhitneyExact(t *testing.T) {
	// 3 vs 3, every y above every x: the most extreme of C(6,3) = 20 arrangements.
	if p := mannWhitneyGreater([]float64{1, 2, 3}, []float64{4, 5, 6}); p != 1.0/20 {
		t.Errorf("p = %v, want 1/20", p)
	}
	if p := mannWhitneyGreater([]float64{4, 5, 6}, []float64{1, 2, 3}); p != 1 {
		t.Errorf("p = %v, want 1 (y all smaller)", p)
	}
	// 5 vs 5 all above: 1 / C(10,5) = 1/252
	if p := mannWhitneyGreater([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}); p != 1.0/252 {
		t.Errorf("p = %v, want 1/252", p)
	}
}
