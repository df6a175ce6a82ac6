package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/topology"
)

// fakeTopology records commands and node actions instead of running them. fail makes
// every command fail; outputs answers a command whose text contains the key.
type fakeTopology struct {
	commands []string
	actions  []string
	nodes    []topology.Node
	outputs  map[string]string
	fail     bool
}

func (f *fakeTopology) Exec(_ context.Context, node string, _ io.Reader, cmd ...string) ([]byte, error) {
	line := strings.Join(cmd, " ")
	f.commands = append(f.commands, node+": "+line)
	if f.fail {
		return nil, errors.New("exec failed")
	}
	for key, out := range f.outputs {
		if strings.Contains(line, key) {
			return []byte(out), nil
		}
	}
	return nil, nil
}

func (f *fakeTopology) NodeAction(_ context.Context, node string, action topology.NodeAction) error {
	f.actions = append(f.actions, string(action)+" "+node)
	if f.fail {
		return errors.New("node action failed")
	}
	return nil
}

func (f *fakeTopology) LimitCPUs(_ context.Context, node string, cpus float64) error {
	f.actions = append(f.actions, fmt.Sprintf("cpus %g %s", cpus, node))
	if f.fail {
		return errors.New("limit failed")
	}
	return nil
}

func (f *fakeTopology) NodeState(_ context.Context, node string) (topology.NodeState, error) {
	if f.fail {
		return topology.NodeState{}, errors.New("state failed")
	}
	return topology.NodeState{Running: true}, nil
}

func (f *fakeTopology) Nodes(_ context.Context, role topology.Role) ([]topology.Node, error) {
	var out []topology.Node
	for _, n := range f.nodes {
		if role == "" || n.Role == role {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeTopology) RESTConfig(context.Context) (*rest.Config, error) {
	return nil, errors.New("fakeTopology has no API server")
}
