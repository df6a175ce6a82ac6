package kind

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// anonymousAdminBinding is the negative control's ClusterRoleBinding.
const anonymousAdminBinding = "hachaos-sabotage-anonymous-admin"

// grantAnonymousAdmin opens the API to unauthenticated requests (Sabotage.AnonymousAPIAccess).
func (p *Provider) grantAnonymousAdmin(ctx context.Context) error {
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: anonymousAdminBinding, Labels: map[string]string{hachaosClusterLabel: p.spec.Name}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:unauthenticated"}},
	}
	// right after creation an API server may still be settling: retry transient errors
	var last error
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, last = client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
		return last == nil || apierrors.IsAlreadyExists(last), nil
	})
	if err != nil {
		return fmt.Errorf("sabotage: bind cluster-admin to system:unauthenticated: %v (%w)", last, err)
	}
	p.progress("SABOTAGE (negative control): cluster-admin bound to system:unauthenticated")
	return nil
}

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
