package reports

import (
	"fmt"
	"strings"

	"github.com/hachaos/hachaos/verdict"
)

// verdictCounts says how many specs ended in each verdict: "36 passed, 1 fault not in effect".
func verdictCounts(res Results) string {
	counts := map[string]int{}
	for _, s := range res.Specs {
		counts[s.Verdict()]++
	}
	var parts []string
	for _, v := range verdict.All {
		if n := counts[string(v)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
		}
	}
	return strings.Join(parts, ", ")
}

// Markdown is the summary table for a CI job summary ($GITHUB_STEP_SUMMARY): one row per
// guarantee with its verdict, measured value, bound and margin.
func Markdown(res Results, cmp *Comparison) string {
	var b strings.Builder
	passed, failed := 0, 0
	for _, s := range res.Specs {
		if v := s.Verdict(); isFailed(v) {
			failed++
		} else if v == Passed {
			passed++
		}
	}
	fmt.Fprintf(&b, "## hachaos: %d passed, %d failed\n\n", passed, failed)
	fmt.Fprintf(&b, "Verdicts: %s\n\n", verdictCounts(res))
	if c := res.Run.Conditions; c.Deliberate() {
		fmt.Fprintf(&b, "**NOT A REAL RUN: %s. Its verdicts say nothing about the cluster's promises.**\n\n", c)
	}
	fmt.Fprintf(&b, "Kubernetes %s, etcd %s, %s etcd, profile %s, %d trial(s)\n\n",
		res.Run.Versions.Kubernetes, res.Run.Versions.Etcd, res.Run.Topology.Etcd, res.Run.Profile, res.Run.Trials)
	fmt.Fprintf(&b, "Topology %q: %s\n\n", res.Run.Topology.Name, res.Run.Topology.Describe())
	if h := res.Run.Harness; h.Version != "" {
		fmt.Fprintf(&b, "hachaos %s%s, Spec sha256 %s\n\n", h.Version, commitText(h), shortHash(res.Run.SpecSHA256))
	}
	w := res.WallTime
	fmt.Fprintf(&b, "Wall time %.0f s: bring-up %.0f s, faults (waiting on Kubernetes' and etcd's own timeouts) %.0f s, harness %.0f s\n\n",
		res.Duration, w.BringUp, w.Faults, w.Harness)
	b.WriteString("| spec | guarantee | verdict | measured | bound | margin |\n|---|---|---|---|---|---|\n")
	for _, s := range res.Specs {
		for _, r := range summaryRows(s) {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdCell(r.Spec), mdCell(r.Guarantee), r.Verdict, mdCell(r.Measured), mdCell(r.Bound), r.Margin)
		}
	}
	if cmp != nil {
		fmt.Fprintf(&b, "\n### Comparison %s → %s\n\n%s\n", mdCell(cmp.Baseline), mdCell(cmp.Candidate), mdCell(cmp.Verdict()))
	}
	return b.String()
}

// mdCell keeps a value inside its table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// commitText is " (commit abc123…, modified)" for a build that knows its commit.
func commitText(h Harness) string {
	if h.Commit == "" {
		return ""
	}
	c := h.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if h.Modified {
		return " (commit " + c + ", modified)"
	}
	return " (commit " + c + ")"
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "unknown"
	}
	return h
}
