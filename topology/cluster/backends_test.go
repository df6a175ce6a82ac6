package cluster

import (
	"testing"

	"github.com/hachaos/hachaos/topology"
)

// A server in maintenance is out of rotation on purpose (an upgrade's control plane);
// one DOWN, a missing one, or none UP at all fails the gate.
func TestBackendsUpButThoseInMaintenance(t *testing.T) {
	state := func(statuses ...string) []topology.BackendState {
		var out []topology.BackendState
		for i, s := range statuses {
			out = append(out, topology.BackendState{Server: string(rune('a' + i)), Status: s})
		}
		return out
	}
	for _, c := range []struct {
		name   string
		states []topology.BackendState
		ok     bool
	}{
		{"all UP", state("UP", "UP", "UP"), true},
		{"one in maintenance", state("MAINT", "UP", "UP"), true},
		{"one UP going down", state("UP 1/2", "UP", "UP"), true},
		{"one DOWN", state("DOWN", "UP", "UP"), false},
		{"one missing", state("UP", "UP"), false},
		{"all in maintenance", state("MAINT", "MAINT", "MAINT"), false},
		{"out because its name does not resolve", state("MAINT (resolution)", "UP", "UP"), false},
	} {
		if err := backendsProblem(c.states, 3); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
		}
	}
}
