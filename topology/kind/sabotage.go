package kind

import (
	"context"
	"fmt"
)

// schedulerOutsideLeaderElection turns leader election off for the last control plane's
// kube-scheduler (Sabotage.SchedulerOutsideLeaderElection). Only one: with every
// scheduler outside it nobody holds the Lease and the readiness gate refuses the cluster
// before any guarantee is checked. The kubelet restarts the scheduler from the edited
// static Pod manifest.
func (p *Provider) schedulerOutsideLeaderElection(ctx context.Context) error {
	nodes := p.controlPlaneNames(ctx)
	if len(nodes) == 0 {
		return fmt.Errorf("sabotage: no control plane found")
	}
	node := nodes[len(nodes)-1]
	const manifest = "/etc/kubernetes/manifests/kube-scheduler.yaml"
	// written beside, then renamed: the kubelet would read a half-written file (or sed -i's
	// temporary one) in the manifests folder as a static Pod of its own
	script := fmt.Sprintf("grep -q -- '--leader-elect=true' %[1]s && sed 's/--leader-elect=true/--leader-elect=false/' %[1]s > /etc/kubernetes/kube-scheduler.sabotaged && mv /etc/kubernetes/kube-scheduler.sabotaged %[1]s", manifest)
	if _, err := p.Exec(ctx, node, nil, "sh", "-c", script); err != nil {
		return fmt.Errorf("sabotage: turn leader election off for kube-scheduler on %s: %w", node, err)
	}
	p.progress("SABOTAGE (negative control): kube-scheduler on %s runs with --leader-elect=false", node)
	return nil
}
