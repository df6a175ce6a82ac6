package fault

import (
	"context"
	"fmt"
	"slices"
)

func init() {
	register(KindProcessKill, func(t Topology, r Record) Fault {
		return ProcessKill{topo: t, Node: r.Target, Process: r.Params["process"]}
	})
}

// KindProcessKill is the registry key of ProcessKill.
const KindProcessKill = "process-kill"

// Processes ProcessKill may kill: the control-plane components and a stacked etcd
// member, all static Pods the kubelet restarts.
const (
	ProcessAPIServer         = "kube-apiserver"
	ProcessScheduler         = "kube-scheduler"
	ProcessControllerManager = "kube-controller-manager"
	ProcessEtcd              = "etcd"
)

var killableProcesses = []string{ProcessAPIServer, ProcessScheduler, ProcessControllerManager, ProcessEtcd}

// ProcessKill crashes a control-plane process with SIGKILL: no graceful shutdown, no
// lease released, connections reset. The kubelet restarts the static Pod's container by
// itself, so Recover has nothing to undo; the suite waits for the component to be back.
type ProcessKill struct {
	topo    Topology
	Node    string
	Process string
}

// NewProcessKill kills process (one of the control-plane components, or etcd) on node.
func NewProcessKill(t Topology, node, process string) (ProcessKill, error) {
	if node == "" {
		return ProcessKill{}, fmt.Errorf("process kill: node is required")
	}
	if !slices.Contains(killableProcesses, process) {
		return ProcessKill{}, fmt.Errorf("process kill: process %q is not one of %v", process, killableProcesses)
	}
	return ProcessKill{topo: t, Node: node, Process: process}, nil
}

// Record implements Fault.
func (f ProcessKill) Record() Record {
	return Record{Kind: KindProcessKill, Target: f.Node, Params: map[string]string{"process": f.Process}}
}

// Inject implements Fault. pkill matches the start of the full command line up to the
// first space, so kube-apiserver is never mistaken for etcd; -x would compare the
// kernel's 15-character process name, which cuts kube-controller-manager short.
func (f ProcessKill) Inject(ctx context.Context) error {
	if _, err := f.topo.Exec(ctx, f.Node, nil, "pkill", "-KILL", "-f", "^"+f.Process+"( |$)"); err != nil {
		return fmt.Errorf("kill %s on %s: %w", f.Process, f.Node, err)
	}
	return nil
}

// Recover implements Fault: a crash is undone by the kubelet, not by the harness.
func (f ProcessKill) Recover(context.Context) error { return nil }
