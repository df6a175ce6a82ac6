package rolling

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
)

// servingReadTimeout bounds one direct read of a control plane coming back into
// rotation: the monitor's client timeout, so "serving" means what a client would see.
const servingReadTimeout = 2 * time.Second

// outOfRotation runs do with node's API server out of the load balancer's rotation, as
// operators drain a control plane from their LB before its maintenance: HAProxy sends
// it no new connection (fault.LBServerMaint, through the ledger, so an interrupted run's
// next start puts it back). It goes back once it serves a quorum read directly — a
// /readyz that passes is not enough: after its stacked member's restart an API server
// passed /readyz 7 s before it served again (35 failed requests through the LB,
// v1.36.3 → v1.37.2) — and the wait ends when HAProxy has it UP. Whatever do returns,
// the server is put back in rotation. Without hachaos' HAProxy (loadBalancer.type
// kind, or no LB container) there is no runtime API, and with one control plane there
// is no other server to send clients to: then do runs as it is.
func (in Input) outOfRotation(ctx context.Context, node string, do func() error) error {
	if in.Spec.LoadBalancer.Type != topology.LBHAProxy || in.Spec.ControlPlanes < 2 {
		return do()
	}
	lbs, err := in.Provider.Nodes(ctx, topology.RoleLoadBalancer)
	if err != nil {
		return err
	}
	if len(lbs) == 0 {
		in.Progress("  %s stays in rotation: no load balancer container to take it out of", node)
		return do()
	}
	f, err := fault.NewLBServerMaint(in.Provider, lbs[0].Name, node)
	if err != nil {
		return err
	}
	var out *fault.Injected
	if err := in.step(ctx, node+": out of the load balancer", func(ctx context.Context) error {
		out, err = in.injectThroughLedger(ctx, f, node+" still in the load balancer's rotation")
		return err
	}); err != nil {
		return in.withRecovery(ctx, out, err)
	}
	if err := do(); err != nil {
		return in.withRecovery(ctx, out, err)
	}
	return in.step(ctx, node+": serving, back in the load balancer", func(ctx context.Context) error {
		if err := in.awaitServing(ctx, node); err != nil {
			return in.withRecovery(ctx, out, err)
		}
		if err := out.Recover(ctx); err != nil {
			return in.withRecovery(ctx, out, err) // once more, past a Ctrl-C
		}
		return in.awaitInRotation(ctx, node)
	})
}

// awaitServing waits up to waits.componentRestart until node's API server answers a
// quorum read (GET of the namespace default, from etcd) within the client timeout.
func (in Input) awaitServing(ctx context.Context, node string) error {
	configs, err := in.Provider.APIServerConfigs(ctx)
	if err != nil {
		return err
	}
	cfg, ok := configs[node]
	if !ok {
		return fmt.Errorf("no API server configuration for %s", node)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	w := in.Spec.Waits
	err = probe.PollUntil(ctx, w.ComponentRestart.Duration, w.Poll.Duration/4, servingReadTimeout, func(ctx context.Context) error {
		_, err := c.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("the API server on %s served no read within waits.componentRestart (%s): %w", node, w.ComponentRestart, err)
	}
	return nil
}

// awaitInRotation waits up to waits.componentRestart until HAProxy has node UP again
// (its health checks decide once it is back from maintenance).
func (in Input) awaitInRotation(ctx context.Context, node string) error {
	lb, err := in.Provider.LoadBalancer(ctx)
	if err != nil {
		return err
	}
	w := in.Spec.Waits
	err = probe.PollUntil(ctx, w.ComponentRestart.Duration, w.Poll.Duration/8, servingReadTimeout, func(ctx context.Context) error {
		states, err := topology.ReadHAProxyBackends(ctx, lb.StatsAddress, topology.HAProxyAPIBackend)
		if err != nil {
			return err
		}
		for _, s := range states {
			if s.Server == node {
				if s.Up() {
					return nil
				}
				return fmt.Errorf("%s is %s", node, s.Status)
			}
		}
		return fmt.Errorf("HAProxy has no server %s", node)
	})
	if err != nil {
		return fmt.Errorf("HAProxy did not take %s back within waits.componentRestart (%s): %w", node, w.ComponentRestart, err)
	}
	return nil
}
