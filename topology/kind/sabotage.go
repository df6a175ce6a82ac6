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
