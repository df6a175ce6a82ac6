package reports

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Budget is how much worse a recovery time may get from a baseline to a candidate before
// the comparison fails: its p95 may grow by Relative (0.5 = 50 %) plus Absolute. The
// absolute part keeps sub-second times, where scheduling noise alone doubles a value on
// a small machine, from failing a certification.
type Budget struct {
	Relative float64
	Absolute time.Duration
}

// Allowed is the largest candidate p95 the budget accepts for a baseline p95.
func (b Budget) Allowed(baseline float64) float64 {
	return baseline*(1+b.Relative) + b.Absolute.Seconds()
}

// Comparison is a guarantee-by-guarantee comparison of a candidate run (TO) with a
// baseline (FROM): what certification decides an upgrade on.
type Comparison struct {
	Baseline, Candidate string // labels, e.g. the Kubernetes versions
	Budget              Budget
	Rows                []ComparisonRow
	Problems            []string
	topologies          []string // the two sides' topology names (see key)
}

// ComparisonRow is one guarantee (or one spec without measured values) on both sides.
type ComparisonRow struct {
	Spec, Guarantee                   string
	BaselineVerdict, CandidateVerdict string
	BaselineP95, CandidateP95         string
	Change                            string
	Finding                           string
	Problem                           bool
}

// Passed reports whether the candidate keeps every guarantee within the budget.
func (c Comparison) Passed() bool { return len(c.Problems) == 0 }

// Verdict is the one-line outcome.
func (c Comparison) Verdict() string {
	if c.Passed() {
		return fmt.Sprintf("PASS: every guarantee holds on %s and no recovery time regressed beyond the budget (p95 × %.2f + %s, significant at %.2f by a one-sided Mann–Whitney test, at least %d trials a side)", c.Candidate, 1+c.Budget.Relative, c.Budget.Absolute, RegressionAlpha, MinTrialsForRegression)
	}
	return fmt.Sprintf("FAIL: %d problem(s) going from %s to %s: %s", len(c.Problems), c.Baseline, c.Candidate, strings.Join(c.Problems, "; "))
}

// Compare compares candidate with baseline. Every spec of the baseline must have run in
// the candidate: a guarantee that was not checked cannot be certified.
func Compare(baseline, candidate Results, baseLabel, candLabel string, budget Budget) Comparison {
	c := Comparison{Baseline: baseLabel, Candidate: candLabel, Budget: budget,
		topologies: []string{baseline.Run.Topology.Name, candidate.Run.Topology.Name}}
	cand := map[string]Spec{}
	for _, s := range candidate.Specs {
		cand[s.Name] = s
	}
	for _, bs := range baseline.Specs {
		cs, ok := cand[bs.Name]
		if !ok {
			c.add(ComparisonRow{Spec: bs.Name, BaselineVerdict: bs.Verdict(), CandidateVerdict: "not run", Finding: "not run on " + candLabel, Problem: true})
			continue
		}
		c.compareSpec(bs, cs)
		delete(cand, bs.Name)
	}
	for _, cs := range candidate.Specs {
		if _, extra := cand[cs.Name]; extra && isFailed(cs.Verdict()) {
			c.add(ComparisonRow{Spec: cs.Name, BaselineVerdict: "not run", CandidateVerdict: cs.Verdict(), Finding: "fails on " + candLabel + " (new spec)", Problem: true})
		}
	}
	return c
}

func (c *Comparison) compareSpec(bs, cs Spec) {
	bg := map[string]Guarantee{}
	for _, g := range bs.Guarantees() {
		bg[c.key(g.Name)] = g
	}
	specRow := ComparisonRow{Spec: bs.Name, Guarantee: "(spec)", BaselineVerdict: bs.Verdict(), CandidateVerdict: cs.Verdict()}
	if isFailed(cs.Verdict()) {
		specRow.Finding, specRow.Problem = "broken on "+c.Candidate+": "+firstLine(cleanText(firstFailure(cs))), true
	}
	c.add(specRow)
	for _, g := range cs.Guarantees() {
		row := ComparisonRow{Spec: cs.Name, Guarantee: c.key(g.Name), CandidateVerdict: verdictWithin(g), CandidateP95: num(g.Stats.P95) + " " + g.Unit}
		b, ok := bg[c.key(g.Name)]
		delete(bg, c.key(g.Name))
		if ok {
			row.BaselineVerdict, row.BaselineP95 = verdictWithin(b), num(b.Stats.P95)+" "+b.Unit
		} else {
			row.BaselineVerdict, row.Finding = "not measured", "no baseline to compare with"
		}
		switch {
		case !g.Within():
			row.Finding, row.Problem = fmt.Sprintf("outside its bound on %s: %s %s (bound %s)", c.Candidate, num(g.Worst()), g.Unit, num(g.Bound)), true
		case ok && g.Unit == "s" && !g.AtLeast:
			row.Change = percentChange(b.Stats.P95, g.Stats.P95)
			row.Finding, row.Problem = c.Budget.regressionFinding(b, g)
		}
		c.add(row)
	}
	// A guarantee measured on the baseline but not on the candidate: when the candidate's
	// spec failed, it was not checked and cannot be certified; when the spec passed, the
	// spec measures it only in some situations (a partition moves a Lease only when the
	// isolated node held it), so it is shown, not held against the candidate.
	for name, b := range bg {
		row := ComparisonRow{Spec: bs.Name, Guarantee: name, BaselineVerdict: verdictWithin(b), BaselineP95: num(b.Stats.P95) + " " + b.Unit,
			CandidateVerdict: "not measured", Finding: "not measured on " + c.Candidate}
		if cs.Verdict() != Passed {
			row.Problem = true
		} else {
			row.Finding += " (the spec passed; it measures this only in some runs)"
		}
		c.add(row)
	}
}

// key names a guarantee independently of the topology it ran on: node names start with
// the topology's name (hachaos-from-control-plane2), which differs between the sides of
// a certification.
func (c *Comparison) key(name string) string {
	// the longer name first: "hachaos-ext-" holds "hachaos-", and stripping the shorter
	// first would leave "ext-control-plane2"
	topologies := slices.Clone(c.topologies)
	sort.Slice(topologies, func(i, j int) bool { return len(topologies[i]) > len(topologies[j]) })
	for _, topo := range topologies {
		if topo != "" {
			name = strings.ReplaceAll(name, topo+"-", "")
		}
	}
	return name
}

func (c *Comparison) add(r ComparisonRow) {
	if r.Problem {
		name := r.Spec
		if r.Guarantee != "" && r.Guarantee != "(spec)" {
			name += " › " + r.Guarantee
		}
		c.Problems = append(c.Problems, name+": "+r.Finding)
	}
	c.Rows = append(c.Rows, r)
}

func verdictWithin(g Guarantee) string {
	if g.Within() {
		return Passed
	}
	return BoundBroken
}

func firstFailure(s Spec) string {
	for _, t := range s.Trials {
		if isFailed(t.Verdict) {
			return t.Failure
		}
	}
	return ""
}

func percentChange(from, to float64) string {
	if from == 0 {
		return fmt.Sprintf("%+.2f s", to-from)
	}
	return fmt.Sprintf("%+.0f %%", 100*(to-from)/from)
}

// Text renders the comparison for a terminal or a CI log.
func (c Comparison) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "comparison %s → %s\n", c.Baseline, c.Candidate)
	for _, r := range c.Rows {
		if r.Guarantee == "(spec)" {
			fmt.Fprintf(&b, "%-8s → %-8s %s\n", r.BaselineVerdict, r.CandidateVerdict, r.Spec)
			continue
		}
		fmt.Fprintf(&b, "    %-40s p95 %s → %s %s %s\n", shorten(r.Guarantee, 40), orDash(r.BaselineP95), r.CandidateP95, r.Change, r.Finding)
	}
	b.WriteString(c.Verdict() + "\n")
	return b.String()
}
