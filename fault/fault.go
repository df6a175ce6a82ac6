package fault

import (
	"context"
	"fmt"
	"io"
	"sort"

	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/topology"
)

// Fault is one way of breaking the topology.
type Fault interface {
	// Record describes the fault completely: the ledger keeps it, and Rebuild turns it
	// back into the fault to recover it after a crash.
	Record() Record
	// Inject breaks the topology.
	Inject(ctx context.Context) error
	// Recover undoes Inject; it succeeds when there is nothing (left) to undo.
	Recover(ctx context.Context) error
	// Needs names what Inject and its effect check need of the provider beyond the
	// Kubernetes API; a provider that lacks one cannot run the fault (the spec is
	// skipped with the reason).
	Needs() []topology.Capability
}

// Record is a fault as the ledger stores it.
type Record struct {
	Kind   string            `json:"kind"`   // registry key, e.g. "apiserver-stop"
	Target string            `json:"target"` // the node or member it acts on
	Params map[string]string `json:"params,omitempty"`
}

func (r Record) String() string { return fmt.Sprintf("%s on %s", r.Kind, r.Target) }

// Topology is what faults need of the topology: commands in its nodes, their
// lifecycle, the node list (addresses) and an API client. cluster.Provider has it all.
type Topology interface {
	Exec(ctx context.Context, node string, stdin io.Reader, cmd ...string) ([]byte, error)
	NodeAction(ctx context.Context, node string, action topology.NodeAction) error
	LimitCPUs(ctx context.Context, node string, cpus float64) error
	NodeState(ctx context.Context, node string) (topology.NodeState, error)
	Nodes(ctx context.Context, role topology.Role) ([]topology.Node, error)
	RESTConfig(ctx context.Context) (*rest.Config, error)
}

// builder rebuilds a fault of one kind from its record.
type builder func(t Topology, r Record) Fault

// registry lists every fault kind; a record of an unknown kind cannot be recovered.
var registry = map[string]builder{}

func register(kind string, b builder) { registry[kind] = b }

// Kinds lists the registered fault kinds.
func Kinds() []string {
	kinds := make([]string, 0, len(registry))
	for k := range registry {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// NeedsOf is what a fault of kind needs of a provider on a topology whose etcd runs in
// mode (an etcd member's fault acts on a machine when external, a process when stacked).
func NeedsOf(kind string, mode topology.EtcdMode) ([]topology.Capability, error) {
	f, err := Rebuild(nil, Record{Kind: kind, Params: map[string]string{"mode": string(mode)}})
	if err != nil {
		return nil, err
	}
	return f.Needs(), nil
}

// Rebuild turns a ledger record back into its fault.
func Rebuild(t Topology, r Record) (Fault, error) {
	b, ok := registry[r.Kind]
	if !ok {
		return nil, fmt.Errorf("ledger names unknown fault kind %q (known: %v)", r.Kind, Kinds())
	}
	return b(t, r), nil
}

// shIn runs a shell script in node, the error naming the node.
func shIn(ctx context.Context, t Topology, node, script string) error {
	if _, err := t.Exec(ctx, node, nil, "sh", "-c", script); err != nil {
		return fmt.Errorf("on %s: %w", node, err)
	}
	return nil
}
