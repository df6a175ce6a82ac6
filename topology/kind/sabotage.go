package kind

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	_, err = client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: anonymousAdminBinding, Labels: map[string]string{hachaosClusterLabel: p.spec.Name}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:unauthenticated"}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("sabotage: bind cluster-admin to system:unauthenticated: %w", err)
	}
	p.progress("SABOTAGE (negative control): cluster-admin bound to system:unauthenticated")
	return nil
}
