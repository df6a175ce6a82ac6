package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindEtcdMemberStop, func(t Topology, r Record) Fault {
		return EtcdMemberStop{topo: t, Node: r.Target, Mode: topology.EtcdMode(r.Params["mode"])}
	})
	register(KindEtcdMemberCrash, func(t Topology, r Record) Fault {
		return EtcdMemberCrash{topo: t, Node: r.Target, Mode: topology.EtcdMode(r.Params["mode"])}
	})
}

// Registry keys of the etcd member faults.
const (
	KindEtcdMemberStop  = "etcd-member-stop"
	KindEtcdMemberCrash = "etcd-member-crash"
)

// Where the kubelet reads a stacked etcd member's static Pod.
const etcdManifest = "/etc/kubernetes/manifests/etcd.yaml"

// EtcdMemberStop takes one etcd member down until Recover: a graceful stop (SIGTERM),
// and nothing starts it again before Recover. Its data stays, so it rejoins as the same
// member and catches up from the leader. Node is the node that runs the member:
//   - stacked: a control-plane node. Its kubelet is paused (SIGSTOP) so that it does not
//     restart the member, then the member gets SIGTERM; Recover resumes the kubelet
//     (SIGCONT), which restarts the container at its next relist. Parking the member's
//     static Pod manifest instead, the documented way to stop a static Pod, makes its
//     return depend on the kubelet deleting the old mirror Pod through its own node's API
//     server, which has no etcd while the local member is down (kubeadm's local mode):
//     34 s per attempt, a random number of attempts (docs/timings.md). The pause's cost:
//     the node's kubelet syncs and probes nothing while the fault holds (its heartbeats
//     go through that same API server, so they fail either way).
//   - external: the member's own container, stopped and started again.
type EtcdMemberStop struct {
	topo Topology
	Node string
	Mode topology.EtcdMode
	// StopWithin is how long the member may take to exit after SIGTERM
	// (topology.Bounds.EtcdGracefulStop); EffectBound adds it.
	StopWithin time.Duration
}

// NewEtcdMemberStop stops the member running on node; mode is the topology's etcd mode,
// stopWithin the member's graceful-stop bound.
func NewEtcdMemberStop(t Topology, node string, mode topology.EtcdMode, stopWithin time.Duration) (EtcdMemberStop, error) {
	if err := checkEtcdTarget(node, mode); err != nil {
		return EtcdMemberStop{}, fmt.Errorf("etcd member stop: %w", err)
	}
	return EtcdMemberStop{topo: t, Node: node, Mode: mode, StopWithin: stopWithin}, nil
}

// Record implements Fault.
func (f EtcdMemberStop) Record() Record {
	return Record{Kind: KindEtcdMemberStop, Target: f.Node, Params: map[string]string{"mode": string(f.Mode)}}
}

// Needs implements Fault: an external member's machine, a stacked member's process.
func (f EtcdMemberStop) Needs() []topology.Capability {
	return etcdMemberNeeds(f.Mode)
}

// Inject implements Fault. The kubelet is paused first, so it cannot restart the member
// between its exit and the pause.
func (f EtcdMemberStop) Inject(ctx context.Context) error {
	if f.Mode == topology.EtcdExternal {
		return f.topo.NodeAction(ctx, f.Node, topology.NodeStop)
	}
	return shIn(ctx, f.topo, f.Node, `pkill -STOP -x kubelet && pkill -TERM -f '^etcd( |$)'`)
}

// Recover implements Fault: the kubelet resumed (a kubelet not paused is success) — and
// a manifest parked by an earlier hachaos that stopped members that way put back.
func (f EtcdMemberStop) Recover(ctx context.Context) error {
	if f.Mode == topology.EtcdExternal {
		return f.topo.NodeAction(ctx, f.Node, topology.NodeStart)
	}
	if err := shIn(ctx, f.topo, f.Node, `pkill -CONT -x kubelet || true`); err != nil {
		return err
	}
	return unparkStaticPod(ctx, f.topo, f.Node, etcdManifest)
}

// EtcdMemberCrash kills one etcd member with SIGKILL, as a crash would: no leadership
// transfer, no clean shutdown. It comes back by itself — the kubelet restarts a stacked
// member's container, Docker's restart policy an external member's — so Recover has
// nothing to undo.
type EtcdMemberCrash struct {
	topo   Topology
	Node   string
	Mode   topology.EtcdMode
	killed *killRecord // a stacked member's process, as ProcessKill's
}

// NewEtcdMemberCrash crashes the member running on node; mode is the topology's etcd mode.
func NewEtcdMemberCrash(t Topology, node string, mode topology.EtcdMode) (EtcdMemberCrash, error) {
	if err := checkEtcdTarget(node, mode); err != nil {
		return EtcdMemberCrash{}, fmt.Errorf("etcd member crash: %w", err)
	}
	return EtcdMemberCrash{topo: t, Node: node, Mode: mode, killed: &killRecord{}}, nil
}

// Record implements Fault.
func (f EtcdMemberCrash) Record() Record {
	return Record{Kind: KindEtcdMemberCrash, Target: f.Node, Params: map[string]string{"mode": string(f.Mode)}}
}

// Needs implements Fault: an external member's machine, a stacked member's process.
func (f EtcdMemberCrash) Needs() []topology.Capability {
	return etcdMemberNeeds(f.Mode)
}

// Inject implements Fault.
func (f EtcdMemberCrash) Inject(ctx context.Context) error {
	if f.Mode == topology.EtcdExternal {
		return f.topo.NodeAction(ctx, f.Node, topology.NodeCrash)
	}
	// a stacked member is a control-plane process like the others
	return f.processKill().Inject(ctx)
}

// processKill is a stacked member's crash: its etcd process killed.
func (f EtcdMemberCrash) processKill() ProcessKill {
	return ProcessKill{topo: f.topo, Node: f.Node, Process: ProcessEtcd, killed: f.killed}
}

// Recover implements Fault: the member restarts by itself.
func (f EtcdMemberCrash) Recover(context.Context) error { return nil }

func checkEtcdTarget(node string, mode topology.EtcdMode) error {
	if node == "" {
		return fmt.Errorf("node is required")
	}
	if mode != topology.EtcdStacked && mode != topology.EtcdExternal {
		return fmt.Errorf("etcd mode %q is not %s or %s", mode, topology.EtcdStacked, topology.EtcdExternal)
	}
	return nil
}

// etcdMemberNeeds: an external member is a machine of its own, stopped or crashed as a
// whole; a stacked one is a process signalled in its control plane.
func etcdMemberNeeds(mode topology.EtcdMode) []topology.Capability {
	if mode == topology.EtcdExternal {
		return []topology.Capability{topology.CapabilityNodeMachines}
	}
	return []topology.Capability{topology.CapabilityNodeCommands}
}
