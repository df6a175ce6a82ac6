package fault

import (
	"context"
	"fmt"

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

// EtcdMemberStop takes one etcd member down until Recover. Node is the node that runs
// the member: a control-plane node for stacked etcd (its static Pod manifest is parked,
// so the kubelet stops it and does not restart it), or the member's own container for
// external etcd (stopped, then started again). Its data stays, so it rejoins as the
// same member and catches up from the leader.
type EtcdMemberStop struct {
	topo Topology
	Node string
	Mode topology.EtcdMode
}

// NewEtcdMemberStop stops the member running on node; mode is the topology's etcd mode.
func NewEtcdMemberStop(t Topology, node string, mode topology.EtcdMode) (EtcdMemberStop, error) {
	if err := checkEtcdTarget(node, mode); err != nil {
		return EtcdMemberStop{}, fmt.Errorf("etcd member stop: %w", err)
	}
	return EtcdMemberStop{topo: t, Node: node, Mode: mode}, nil
}

// Record implements Fault.
func (f EtcdMemberStop) Record() Record {
	return Record{Kind: KindEtcdMemberStop, Target: f.Node, Params: map[string]string{"mode": string(f.Mode)}}
}

// Inject implements Fault.
func (f EtcdMemberStop) Inject(ctx context.Context) error {
	if f.Mode == topology.EtcdExternal {
		return f.topo.NodeAction(ctx, f.Node, topology.NodeStop)
	}
	return parkStaticPod(ctx, f.topo, f.Node, etcdManifest)
}

// Recover implements Fault; a member that is running (manifest in place, container
// started) is success.
func (f EtcdMemberStop) Recover(ctx context.Context) error {
	if f.Mode == topology.EtcdExternal {
		return f.topo.NodeAction(ctx, f.Node, topology.NodeStart)
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
