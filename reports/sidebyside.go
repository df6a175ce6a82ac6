package reports

import (
	"fmt"
	"sort"
	"strings"
)

// SideBySide puts two runs' measured values next to each other, guarantee by guarantee:
// the same suites on two etcd layouts (stacked and external), or any two runs a reader
// wants to set beside each other. Unlike Compare it judges nothing — neither side is the
// baseline — and says, where the layouts explain a difference, why.
type SideBySide struct {
	Left, Right string
	Rows        []SideBySideRow
}

// SideBySideRow is one guarantee on both sides: verdict, p50 and p95 over the trials.
type SideBySideRow struct {
	Spec, Guarantee   string
	Left, Right       string // "p50 / p95 unit", or "not measured"
	LeftP95, RightP95 float64
	Bound             string
	Ratio             string // right p95 ÷ left p95, where both were measured
	Reason            string // why the layouts differ here, where known
	leftRan, rightRan bool
}

// layoutReasons are the known reasons two etcd layouts measure a guarantee differently,
// by a word in its name. They come from how each layout recovers, not from any run.
var layoutReasons = []struct{ match, reason string }{
	{"isolated member", "only stacked: the partitioned control plane holds an etcd member; external members are not partitioned"},
	{"rejoin", "stacked: the member is a static Pod its node's kubelet manages, beside an API server that depends on it; external: a container that restarts on its own"},
	{"acknowledged again", "stacked: the restored members are static Pods their kubelets bring back, each beside an API server that needs it; external: containers that restart on their own"},
	{"without an acknowledged write", "stacked: the partitioned control plane holds the etcd leader (the spec makes it lead), so writes wait for an election; external: the members are not on the control plane and nothing is elected"},
	{"etcd leader", "only a stacked partition moves an etcd leader: external members are not on the partitioned control plane"},
}

// CompareSideBySide lines up left's and right's guarantees by spec and guarantee name
// (node names made independent of the topology, as Compare does).
func CompareSideBySide(left, right Results, leftLabel, rightLabel string) SideBySide {
	keyer := Comparison{topologies: []string{left.Run.Topology.Name, right.Run.Topology.Name}}
	rows := map[[2]string]*SideBySideRow{}
	var order [][2]string
	side := func(r Results, isLeft bool) {
		for _, s := range r.Specs {
			for _, g := range s.Guarantees() {
				k := [2]string{s.Name, keyer.key(g.Name)}
				row, ok := rows[k]
				if !ok {
					row = &SideBySideRow{Spec: s.Name, Guarantee: k[1], Left: "not measured", Right: "not measured", Bound: boundText(g)}
					rows[k] = row
					order = append(order, k)
				}
				text := fmt.Sprintf("%s / %s %s", num(g.Stats.P50), num(g.Stats.P95), g.Unit)
				if !g.Within() {
					text += " (outside its bound)"
				}
				if isLeft {
					row.Left, row.LeftP95, row.leftRan = text, g.Stats.P95, true
				} else {
					row.Right, row.RightP95, row.rightRan = text, g.Stats.P95, true
				}
			}
		}
	}
	side(left, true)
	side(right, false)
	sort.SliceStable(order, func(i, j int) bool { return order[i][0] < order[j][0] })
	out := SideBySide{Left: leftLabel, Right: rightLabel}
	for _, k := range order {
		row := rows[k]
		if row.leftRan && row.rightRan && row.LeftP95 > 0 {
			row.Ratio = fmt.Sprintf("× %.2g", row.RightP95/row.LeftP95)
		}
		row.Reason = layoutReason(*row)
		out.Rows = append(out.Rows, *row)
	}
	return out
}

// layoutReason is the known reason for a row whose sides differ — one p95 more than
// twice the other and more than one unit apart (three trials a side are noisy: lease
// jitter alone moves a takeover by a second) — or that only one side measured; "" when
// they agree.
func layoutReason(r SideBySideRow) string {
	differ := r.leftRan != r.rightRan
	if r.leftRan && r.rightRan {
		hi, lo := max(r.LeftP95, r.RightP95), min(r.LeftP95, r.RightP95)
		differ = hi > 2*lo && hi-lo > 1
	}
	if !differ {
		return ""
	}
	for _, l := range layoutReasons {
		if strings.Contains(strings.ToLower(r.Guarantee), l.match) {
			return l.reason
		}
	}
	return "no known reason in the layouts: look at both timelines"
}

// boundText is g's bound as the reports render every bound.
func boundText(g Guarantee) string {
	return Measurement{Bound: g.Bound, AtLeast: g.AtLeast, Unbounded: g.Unbounded, Unit: g.Unit}.BoundText()
}

// Markdown renders the table: a row per guarantee, p50 / p95 on each side.
func (s SideBySide) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| spec | guarantee | %s p50 / p95 | %s p50 / p95 | bound | %s ÷ %s | why they differ |\n|---|---|---|---|---|---|---|\n",
		mdCell(s.Left), mdCell(s.Right), mdCell(s.Right), mdCell(s.Left))
	for _, r := range s.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", mdCell(r.Spec), mdCell(r.Guarantee), r.Left, r.Right, r.Bound, r.Ratio, mdCell(r.Reason))
	}
	return b.String()
}
