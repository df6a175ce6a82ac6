package reports

import (
	"strings"
	"testing"
)

func sideRun(topo, etcd string, values map[string]float64) Results {
	s := Spec{Name: "etcd spec"}
	t := Trial{Verdict: Passed}
	for name, v := range values {
		t.Measurements = append(t.Measurements, Measurement{Name: name, Value: v, Unit: "s", Bound: 180})
	}
	s.Trials = []Trial{t}
	return Results{Run: RunInfo{Topology: Topology{Name: topo, Etcd: etcd}}, Specs: []Spec{s}}
}

// Rows meet by guarantee across topologies whose node names differ; a reason is given
// only where the sides differ, and the one-side-only row says so.
func TestSideBySideMatchesGuaranteesAndExplainsOnlyDifferences(t *testing.T) {
	left := sideRun("hachaos", "stacked", map[string]float64{
		"etcd stopped follower hachaos-control-plane2 rejoined": 9.3,
		"etcd longest time without an acknowledged write":       2.1,
		"etcd isolated member rejoined":                         7,
		"Lease taken over":                                      7.2,
	})
	right := sideRun("hachaos-ext", "external", map[string]float64{
		"etcd stopped follower hachaos-ext-control-plane2 rejoined": 0.9,
		"etcd longest time without an acknowledged write":           0.12,
		"Lease taken over": 7.9,
	})
	sb := CompareSideBySide(left, right, "stacked", "external")
	rows := map[string]SideBySideRow{}
	for _, r := range sb.Rows {
		rows[r.Guarantee] = r
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (the follower's rejoin matched across node names): %+v", len(rows), sb.Rows)
	}
	if r := rows["etcd stopped follower control-plane2 rejoined"]; !strings.Contains(r.Reason, "static Pod") || r.Ratio == "" {
		t.Errorf("rejoin row %+v: want the static-Pod reason and a ratio", r)
	}
	if r := rows["etcd longest time without an acknowledged write"]; !strings.Contains(r.Reason, "election") {
		t.Errorf("write-gap row %+v: want the election reason", r)
	}
	if r := rows["etcd isolated member rejoined"]; r.Right != "not measured" || !strings.Contains(r.Reason, "only stacked") {
		t.Errorf("one-sided row %+v: want not measured and the only-stacked reason", r)
	}
	if r := rows["Lease taken over"]; r.Reason != "" {
		t.Errorf("takeover row %+v: the sides agree, want no reason", r)
	}
	if md := sb.Markdown(); !strings.Contains(md, "| stacked p50 / p95 | external p50 / p95 |") {
		t.Errorf("markdown header:\n%s", md)
	}
}
