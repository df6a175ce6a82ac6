package monitor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// AwaitFreshHeartbeats waits up to timeout until every node is Ready and its kubelet has
// renewed its node Lease after since. The readiness gate alone passes at once after a
// node restart: the node lifecycle controller marks a silent node NotReady only after its
// grace period, so "Ready" read right after the command is the state from before it.
func AwaitFreshHeartbeats(ctx context.Context, cfg *rest.Config, since time.Time, timeout, poll time.Duration) error {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		stale, err := staleNodes(ctx, c, since)
		if err == nil && len(stale) == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("no kubelet heartbeat since the command ended, or not Ready: %s", strings.Join(stale, ", "))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

// staleNodes lists the nodes not Ready or whose Lease was last renewed before since.
func staleNodes(ctx context.Context, c kubernetes.Interface, since time.Time) ([]string, error) {
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, n := range nodes.Items {
		if !nodeReady(n) {
			stale = append(stale, n.Name+" (not Ready)")
			continue
		}
		l, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if l.Spec.RenewTime == nil || l.Spec.RenewTime.Time.Before(since) {
			stale = append(stale, n.Name+" (Lease not renewed since)")
		}
	}
	sort.Strings(stale)
	return stale, nil
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
