package kind

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/moby/api/types/network"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// RESTConfig is the cluster-admin configuration kind wrote, through the load balancer.
func (p *Provider) RESTConfig(ctx context.Context) (*rest.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.restConfig == nil {
		raw, err := p.kind.KubeConfig(p.spec.Name, false)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig of %s: %w", p.spec.Name, err)
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("parse kubeconfig of %s: %w", p.spec.Name, err)
		}
		p.restConfig = cfg
	}
	return rest.CopyConfig(p.restConfig), nil
}

// APIServerConfigs points the same credentials at each API server's own address; the
// serving certificates kubeadm issues are valid for the node addresses.
func (p *Provider) APIServerConfigs(ctx context.Context) (map[string]*rest.Config, error) {
	base, err := p.RESTConfig(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := p.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*rest.Config, len(nodes))
	for _, n := range nodes {
		cfg := rest.CopyConfig(base)
		cfg.Host = fmt.Sprintf("https://%s:%d", n.IP, apiServerPort)
		out[n.Name] = cfg
	}
	return out, nil
}

// LoadBalancer is the API URL clients use and, for HAProxy, its stats socket on loopback.
func (p *Provider) LoadBalancer(ctx context.Context) (cluster.LoadBalancerAccess, error) {
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return cluster.LoadBalancerAccess{}, err
	}
	access := cluster.LoadBalancerAccess{Server: cfg.Host}
	if p.spec.LoadBalancer.Type != topology.LBHAProxy {
		return access, nil
	}
	lb, err := p.docker.inspect(ctx, p.loadBalancerName())
	if err != nil {
		return cluster.LoadBalancerAccess{}, err
	}
	statsPort := network.MustParsePort(fmt.Sprintf("%d/tcp", haproxyStatPort))
	if lb.NetworkSettings == nil || len(lb.NetworkSettings.Ports[statsPort]) == 0 {
		return cluster.LoadBalancerAccess{}, fmt.Errorf("load balancer %s publishes no stats port (was it replaced by hachaos?)", p.loadBalancerName())
	}
	b := lb.NetworkSettings.Ports[statsPort][0]
	access.StatsAddress = fmt.Sprintf("%s:%s", b.HostIP, b.HostPort)
	return access, nil
}

// Exec runs cmd in the named node (any container of the topology).
func (p *Provider) Exec(ctx context.Context, node string, stdin io.Reader, cmd ...string) ([]byte, error) {
	return p.docker.exec(ctx, node, stdin, cmd)
}

// CollectLogs writes kind's node logs (journal, containers, kubelet) and the logs of the
// containers hachaos runs beside them (external etcd, load balancer) below dir.
func (p *Provider) CollectLogs(ctx context.Context, dir string) error {
	if err := p.kind.CollectLogs(p.spec.Name, dir); err != nil {
		return fmt.Errorf("collect kind logs: %w", err)
	}
	nodes, err := p.Nodes(ctx, "")
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Role != topology.RoleEtcd && n.Role != topology.RoleLoadBalancer {
			continue
		}
		logs, err := p.docker.logs(ctx, n.Name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, n.Name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n.Name, "container.log"), logs, 0o644); err != nil {
			return fmt.Errorf("write logs of %s: %w", n.Name, err)
		}
	}
	return nil
}
