package reports

import (
	"fmt"
	"math/big"
)

// A regression of a recovery time is claimed only when it is real, not noise: the
// candidate's p95 exceeds the budget's allowance over the baseline's, AND a one-sided
// Mann–Whitney rank test says the candidate's values are larger with p ≤ RegressionAlpha
// (exact, from the rank-sum distribution: no normal approximation on a handful of
// trials), AND the baseline's own spread (max − min) fits inside the budget's allowance
// — a value that varies on the old version more than the budget allows is "too noisy to
// judge", not a regression — AND so does the spread its history may add
// (Measurement.HistorySpread), seen or not in these few trials. With fewer than MinTrialsForRegression values on a side no
// regression is claimed at all (a "p95" of one sample is that sample).
const (
	RegressionAlpha        = 0.05
	MinTrialsForRegression = 3
)

// regressionFinding judges one recovery time; problem is true only for a regression.
func (b Budget) regressionFinding(base, cand Guarantee) (finding string, problem bool) {
	allowed := b.Allowed(base.Stats.P95)
	slack := allowed - base.Stats.P95
	nb, nc := len(base.Values), len(cand.Values)
	switch {
	case cand.Stats.P95 <= allowed:
		return "", false
	case nb < MinTrialsForRegression || nc < MinTrialsForRegression:
		return fmt.Sprintf("p95 %s → %s s over the budget (%s s), but %d and %d trials are too few to tell a regression from noise (need %d per side): not claimed",
			num(base.Stats.P95), num(cand.Stats.P95), num(allowed), nb, nc, MinTrialsForRegression), false
	case base.Stats.Max-base.Stats.Min > slack:
		return fmt.Sprintf("too noisy to judge: on the baseline alone it spread %s–%s s, more than the budget's %s s allowance", num(base.Stats.Min), num(base.Stats.Max), num(slack)), false
	case max(base.HistorySpread, cand.HistorySpread) > slack:
		return fmt.Sprintf("too noisy to judge: its own history may add 0–%s s to it (the kubelet's crash-loop back-off after an earlier restart), more than the budget's %s s allowance; p95 %s → %s s",
			num(max(base.HistorySpread, cand.HistorySpread)), num(slack), num(base.Stats.P95), num(cand.Stats.P95)), false
	}
	p := mannWhitneyGreater(base.Values, cand.Values)
	if p > RegressionAlpha {
		return fmt.Sprintf("p95 %s → %s s over the budget (%s s), not significant (one-sided Mann–Whitney p = %.3f > %.2f): not claimed", num(base.Stats.P95), num(cand.Stats.P95), num(allowed), p, RegressionAlpha), false
	}
	return fmt.Sprintf("p95 regressed %s → %s s (%s), budget allows %s s; significant (one-sided Mann–Whitney p = %.3f ≤ %.2f, %d vs %d trials)",
		num(base.Stats.P95), num(cand.Stats.P95), percentChange(base.Stats.P95, cand.Stats.P95), num(allowed), p, RegressionAlpha, nb, nc), true
}

// mannWhitneyGreater is the exact one-sided p-value that values of y are stochastically
// larger than those of x: P(U ≥ u) under the null, U counting pairs with y > x (ties ½),
// from the exact distribution of U (all C(n+m, n) rank assignments equally likely).
func mannWhitneyGreater(x, y []float64) float64 {
	n, m := len(x), len(y)
	var u2 float64 // twice U, so ties stay whole
	for _, a := range x {
		for _, b := range y {
			switch {
			case b > a:
				u2 += 2
			case b == a:
				u2++
			}
		}
	}
	// counts[k] = number of arrangements with U = k (no ties), by the standard
	// recursion over the largest element; ties are rare in measured times and only make
	// this conservative.
	counts := uDistribution(n, m)
	total := new(big.Int)
	tail := new(big.Int)
	for k, c := range counts {
		total.Add(total, c)
		if float64(2*k) >= u2 {
			tail.Add(tail, c)
		}
	}
	p, _ := new(big.Rat).SetFrac(tail, total).Float64()
	return p
}

// uDistribution returns, for k = 0 … n·m, how many orderings of n x's and m y's have
// exactly k (x, y) pairs with y after (greater than) x.
func uDistribution(n, m int) []*big.Int {
	memo := map[[2]int][]*big.Int{}
	var f func(n, m int) []*big.Int
	f = func(n, m int) []*big.Int {
		if n == 0 || m == 0 {
			return []*big.Int{big.NewInt(1)}
		}
		key := [2]int{n, m}
		if d, ok := memo[key]; ok {
			return d
		}
		out := make([]*big.Int, n*m+1)
		for i := range out {
			out[i] = new(big.Int)
		}
		// the largest value is a y: it beats all n x's
		for k, c := range f(n, m-1) {
			out[k+n].Add(out[k+n], c)
		}
		// the largest value is an x: it adds nothing
		for k, c := range f(n-1, m) {
			out[k].Add(out[k], c)
		}
		memo[key] = out
		return out
	}
	return f(n, m)
}
