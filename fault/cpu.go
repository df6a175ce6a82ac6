package fault

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindCPULimit, func(t Topology, r Record) Fault {
		cpus, _ := strconv.ParseFloat(r.Params["cpus"], 64)
		return CPULimit{topo: t, Node: r.Target, CPUs: cpus}
	})
}

// KindCPULimit is the fault kind of a node's CPU limit.
const KindCPULimit = "cpu-limit"

// CPULimit caps a node's machine at CPUs cores until Recover. It is not a fault of its
// own but the stand-in for a separate machine: the partition specs put it on the node
// they isolate, so that node's retry storm burns its own CPU, as it would on its own
// hardware, instead of the cores the majority shares with it on one host.
type CPULimit struct {
	topo Topology
	Node string
	CPUs float64
}

// NewCPULimit limits node to cpus cores (more than 0).
func NewCPULimit(t Topology, node string, cpus float64) (CPULimit, error) {
	f := CPULimit{topo: t, Node: node, CPUs: cpus}
	switch {
	case node == "":
		return CPULimit{}, errors.New("cpu limit: Node is empty")
	case cpus <= 0:
		return CPULimit{}, fmt.Errorf("cpu limit: CPUs must be more than 0, got %g", cpus)
	}
	return f, nil
}

// Record implements Fault.
func (f CPULimit) Record() Record {
	return Record{Kind: KindCPULimit, Target: f.Node, Params: map[string]string{"cpus": strconv.FormatFloat(f.CPUs, 'g', -1, 64)}}
}

// Needs implements Fault: the node machine's CPU cap.
func (f CPULimit) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityCPULimits}
}

// Inject implements Fault.
func (f CPULimit) Inject(ctx context.Context) error {
	return f.topo.LimitCPUs(ctx, f.Node, f.CPUs)
}

// Recover implements Fault; lifting a cap that is not there is success.
func (f CPULimit) Recover(ctx context.Context) error {
	return f.topo.LimitCPUs(ctx, f.Node, 0)
}
