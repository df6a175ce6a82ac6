package verdict

import "testing"

func TestCombineLetsABrokenPromiseOutweighEverything(t *testing.T) {
	cases := []struct {
		trials []Verdict
		want   Verdict
	}{
		{nil, Skipped},
		{[]Verdict{Skipped, Passed}, Passed},
		{[]Verdict{Passed, FaultNotInEffect, Passed}, FaultNotInEffect},
		{[]Verdict{EnvironmentNotReady, FaultNotInEffect}, FaultNotInEffect},
		{[]Verdict{FaultNotInEffect, DidNotRecover}, DidNotRecover},
		{[]Verdict{DidNotRecover, GuaranteeBroken, Passed}, GuaranteeBroken},
	}
	for _, c := range cases {
		if got := Combine(c.trials...); got != c.want {
			t.Errorf("Combine(%v) = %q, want %q", c.trials, got, c.want)
		}
	}
}

func TestParseRefusesWhatIsNotAVerdict(t *testing.T) {
	for _, v := range All {
		if got, err := Parse(string(v)); err != nil || got != v {
			t.Errorf("Parse(%q) = %q, %v", v, got, err)
		}
	}
	if _, err := Parse("failed"); err == nil {
		t.Error(`Parse("failed") accepted a verdict that does not exist`)
	}
}

func TestClasses(t *testing.T) {
	for _, v := range All {
		if v.Broken() && v.Inconclusive() {
			t.Errorf("%q is both broken and inconclusive", v)
		}
		if v.Failed() != (v.Broken() || v.Inconclusive()) {
			t.Errorf("%q: Failed must be exactly broken or inconclusive", v)
		}
	}
}
