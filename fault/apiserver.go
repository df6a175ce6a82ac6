package fault

import (
	"context"
	"fmt"
	"path"

	"github.com/hachaos/hachaos/topology"
)

// Where the kubelet reads the API server's static Pod, and where a stopped one is parked.
const (
	apiServerManifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
	parkedManifestDir = "/etc/kubernetes/hachaos-parked"
)

func init() {
	register(KindAPIServerStop, func(n Topology, r Record) Fault { return APIServerStop{nodes: n, Node: r.Target} })
	register(KindAPIServerFreeze, func(n Topology, r Record) Fault { return APIServerFreeze{nodes: n, Node: r.Target} })
}

// Fault kinds for the API server.
const (
	KindAPIServerStop   = "apiserver-stop"
	KindAPIServerFreeze = "apiserver-freeze"
)

// APIServerStop stops one API server gracefully, as an operator taking it down would:
// its static Pod manifest is moved out of the kubelet's folder, so the kubelet stops the
// Pod. Recover moves it back and the kubelet starts it again.
type APIServerStop struct {
	nodes Topology
	Node  string
}

// NewAPIServerStop stops the API server on the control-plane node named node.
func NewAPIServerStop(nodes Topology, node string) APIServerStop {
	return APIServerStop{nodes: nodes, Node: node}
}

// Record implements Fault.
func (f APIServerStop) Record() Record { return Record{Kind: KindAPIServerStop, Target: f.Node} }

// Needs implements Fault: the kubelet's static Pod manifest taken away in the node.
func (f APIServerStop) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

// Inject implements Fault.
func (f APIServerStop) Inject(ctx context.Context) error {
	return parkStaticPod(ctx, f.nodes, f.Node, apiServerManifest)
}

// Recover implements Fault; with no parked manifest there is nothing to undo.
func (f APIServerStop) Recover(ctx context.Context) error {
	return unparkStaticPod(ctx, f.nodes, f.Node, apiServerManifest)
}

// parkStaticPod stops a static Pod the way an operator does: its manifest moves out of
// the kubelet's folder, and the kubelet stops the Pod.
func parkStaticPod(ctx context.Context, t Topology, node, manifest string) error {
	return shIn(ctx, t, node, fmt.Sprintf("mkdir -p %s && mv %s %s/", parkedManifestDir, manifest, parkedManifestDir))
}

// unparkStaticPod moves a parked manifest back (the kubelet starts the Pod again); with
// none parked there is nothing to undo.
func unparkStaticPod(ctx context.Context, t Topology, node, manifest string) error {
	parked := parkedManifestDir + "/" + path.Base(manifest)
	return shIn(ctx, t, node, fmt.Sprintf("if [ -f %s ]; then mv %s %s; fi", parked, parked, manifest))
}

// APIServerFreeze stops the API server process with SIGSTOP: it stays alive and the
// kernel still accepts TCP connections for it, but it answers nothing — the failure a
// load balancer's health check must see through. Recover sends SIGCONT.
type APIServerFreeze struct {
	nodes Topology
	Node  string
}

// NewAPIServerFreeze freezes the API server on the control-plane node named node.
func NewAPIServerFreeze(nodes Topology, node string) APIServerFreeze {
	return APIServerFreeze{nodes: nodes, Node: node}
}

// Record implements Fault.
func (f APIServerFreeze) Record() Record { return Record{Kind: KindAPIServerFreeze, Target: f.Node} }

// Needs implements Fault: SIGSTOP in the node.
func (f APIServerFreeze) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

// Inject implements Fault.
func (f APIServerFreeze) Inject(ctx context.Context) error {
	_, err := f.nodes.Exec(ctx, f.Node, nil, "pkill", "-STOP", "-x", "kube-apiserver")
	if err != nil {
		return fmt.Errorf("freeze kube-apiserver on %s: %w", f.Node, err)
	}
	return nil
}

// Recover implements Fault; "no such process" (it was restarted meanwhile) is success.
func (f APIServerFreeze) Recover(ctx context.Context) error {
	_, err := f.nodes.Exec(ctx, f.Node, nil, "sh", "-c", "pkill -CONT -x kube-apiserver; true")
	if err != nil {
		return fmt.Errorf("thaw kube-apiserver on %s: %w", f.Node, err)
	}
	return nil
}
