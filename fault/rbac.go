package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindAnonymousAdmin, func(t Topology, r Record) Fault { return AnonymousAdmin{topo: t, Node: r.Target} })
}

// KindAnonymousAdmin is the registry key of AnonymousAdmin.
const KindAnonymousAdmin = "anonymous-admin"

// anonymousAdminBinding is the sabotage's ClusterRoleBinding.
const anonymousAdminBinding = "hachaos-sabotage-anonymous-admin"

// kubectlAdmin runs kubectl in a control plane with kubeadm's admin credentials: the
// fault package reaches the cluster through its nodes only.
const kubectlAdmin = "kubectl --kubeconfig=/etc/kubernetes/admin.conf "

// AnonymousAdmin is a sabotage of the API's authorization: cluster-admin bound to every
// unauthenticated request (a ClusterRoleBinding for system:unauthenticated), the
// misconfiguration that opens an API server to anyone — on the running topology, the
// negative control of the anonymous-access check. Recover deletes the binding.
type AnonymousAdmin struct {
	topo Topology
	Node string // the control plane whose kubectl and admin.conf are used
}

// NewAnonymousAdmin binds cluster-admin to system:unauthenticated from node.
func NewAnonymousAdmin(t Topology, node string) (AnonymousAdmin, error) {
	if node == "" {
		return AnonymousAdmin{}, fmt.Errorf("anonymous admin: a control plane is required")
	}
	return AnonymousAdmin{topo: t, Node: node}, nil
}

// Record implements Fault.
func (f AnonymousAdmin) Record() Record { return Record{Kind: KindAnonymousAdmin, Target: f.Node} }

// Needs implements Fault: a flag in the node's API server manifest.
func (f AnonymousAdmin) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

// Inject implements Fault; a binding already there (an earlier, killed run) is kept.
func (f AnonymousAdmin) Inject(ctx context.Context) error {
	return shIn(ctx, f.topo, f.Node, fmt.Sprintf("%[1]sget clusterrolebinding %[2]s >/dev/null 2>&1 || %[1]screate clusterrolebinding %[2]s --clusterrole=cluster-admin --group=system:unauthenticated", kubectlAdmin, anonymousAdminBinding))
}

// Recover implements Fault.
func (f AnonymousAdmin) Recover(ctx context.Context) error {
	return shIn(ctx, f.topo, f.Node, kubectlAdmin+"delete clusterrolebinding "+anonymousAdminBinding+" --ignore-not-found")
}

// InEffect implements Observable: the binding exists and names the group.
func (f AnonymousAdmin) InEffect(ctx context.Context, _ time.Time) error {
	out, err := f.topo.Exec(ctx, f.Node, nil, "sh", "-c", kubectlAdmin+"get clusterrolebinding "+anonymousAdminBinding+" -o jsonpath='{.subjects[*].name}'")
	if err != nil {
		return fmt.Errorf("read the binding %s: %w", anonymousAdminBinding, err)
	}
	if string(out) != "system:unauthenticated" {
		return fmt.Errorf("the binding %s names %q, not system:unauthenticated", anonymousAdminBinding, out)
	}
	return nil
}
