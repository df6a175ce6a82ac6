package fault

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindProcessKill, func(t Topology, r Record) Fault {
		return ProcessKill{topo: t, Node: r.Target, Process: r.Params["process"], killed: &killRecord{}}
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
	killed  *killRecord // what the kill saw, shared by the fault's copies
}

// killRecord is the kernel's identity of the process a kill killed: its pid and its
// start time in clock ticks. InEffect tells the killed process from the one the kubelet
// started in its place by that identity, with no clocks compared: comparing the
// process's age with the time since the kill read "not killed" when a docker exec on 2
// cores took 1.5 s, longer than the kubelet took to restart the API server.
type killRecord struct {
	mu         sync.Mutex
	pid, start string // "" until a kill ran
}

func (k *killRecord) set(pid, start string) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pid, k.start = pid, start
}

// get is the killed process's identity; ok is false before a kill (or when the fault's
// Inject was disabled, for the self-check).
func (k *killRecord) get() (pid, start string, ok bool) {
	if k == nil {
		return "", "", false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pid, k.start, k.pid != ""
}

// NewProcessKill kills process (one of the control-plane components, or etcd) on node.
func NewProcessKill(t Topology, node, process string) (ProcessKill, error) {
	if node == "" {
		return ProcessKill{}, fmt.Errorf("process kill: node is required")
	}
	if !slices.Contains(killableProcesses, process) {
		return ProcessKill{}, fmt.Errorf("process kill: process %q is not one of %v", process, killableProcesses)
	}
	return ProcessKill{topo: t, Node: node, Process: process, killed: &killRecord{}}, nil
}

// Record implements Fault.
func (f ProcessKill) Record() Record {
	return Record{Kind: KindProcessKill, Target: f.Node, Params: map[string]string{"process": f.Process}}
}

// Needs implements Fault: a signal in the node.
func (f ProcessKill) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

// Inject implements Fault. pkill matches the start of the full command line up to the
// first space, so kube-apiserver is never mistaken for etcd; -x would compare the
// kernel's 15-character process name, which cuts kube-controller-manager short.
func (f ProcessKill) Inject(ctx context.Context) error {
	// The oldest instance's identity first, then every instance killed (a process not
	// running is an error, as pkill's own exit status says).
	script := fmt.Sprintf(`pid=$(pgrep -o -f '^%[1]s( |$)') && start=$(cut -d' ' -f22 /proc/$pid/stat) && pkill -KILL -f '^%[1]s( |$)' && echo "$pid $start"`, f.Process)
	out, err := f.topo.Exec(ctx, f.Node, nil, "sh", "-c", script)
	if err != nil {
		return fmt.Errorf("kill %s on %s: %w", f.Process, f.Node, err)
	}
	if fields := strings.Fields(string(out)); len(fields) == 2 {
		f.killed.set(fields[0], fields[1])
	}
	return nil
}

// Recover implements Fault: a crash is undone by the kubelet, not by the harness.
func (f ProcessKill) Recover(context.Context) error { return nil }
