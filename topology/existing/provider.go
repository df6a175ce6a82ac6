package existing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Provider is a topology hachaos did not create, reached through a kubeconfig alone.
// It never creates, recreates or deletes the cluster: Attach checks it is what the Spec
// says and starts the node agent, Detach removes the agent, and every node-side step of
// a fault runs through the agent. It is safe for concurrent use.
type Provider struct {
	spec     topology.Spec
	stateDir string
	progress topology.Progress
	config   *rest.Config
	client   kubernetes.Interface
	agent    *Agent

	mu         sync.Mutex
	discovered *Topology
	etcdAccess *cluster.EtcdAccess
}

var (
	_ cluster.Provider = (*Provider)(nil)
	_ cluster.Attacher = (*Provider)(nil)
)

// New returns the provider of spec (provider "existing"), which must be valid; it reads
// the kubeconfig but contacts nothing yet.
func New(spec topology.Spec, progress topology.Progress) (*Provider, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Provider != topology.ProviderExisting {
		return nil, fmt.Errorf("provider: the existing-cluster provider was given a Spec of provider %q", spec.Provider)
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: spec.Kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: spec.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s (context %q): %w", spec.Kubeconfig, spec.Context, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Provider{
		spec: spec, stateDir: filepath.Join(cluster.StateRoot(), spec.Name), progress: progress,
		config: cfg, client: client, agent: NewAgent(client, spec.Agent.Image),
	}, nil
}

// LedgerPath is the file where faults injected into this cluster are recorded until
// they are recovered (fault.Ledger), on this machine, by the Spec's name.
func (p *Provider) LedgerPath() string { return filepath.Join(p.stateDir, "faults.json") }

// KubeconfigPath is the user's kubeconfig.
func (p *Provider) KubeconfigPath() string { return p.spec.Kubeconfig }

// Lock takes the topology's run lock (cluster.LockStateDir).
func (p *Provider) Lock() (unlock func(), err error) {
	return cluster.LockStateDir(p.stateDir, p.spec.Name)
}

// Attach checks that the cluster is what the Spec expects (every difference at once,
// each naming its Spec field) and starts the node agent.
func (p *Provider) Attach(ctx context.Context) (err error) {
	done := topology.StepTimer(p.progress, "discover the existing cluster")
	t, err := p.discover(ctx)
	done(&err)
	if err != nil {
		return err
	}
	p.progress("%s", strings.TrimRight(t.String(), "\n"))
	if diffs := t.Check(p.spec); len(diffs) > 0 {
		return fmt.Errorf("the cluster behind %s is not what the Spec expects:\n  - %s", p.spec.Kubeconfig, strings.Join(diffs, "\n  - "))
	}
	done = topology.StepTimer(p.progress, fmt.Sprintf("start the node agent (DaemonSet %s/%s, image %s)", AgentNamespace, AgentName, p.spec.Agent.Image))
	err = p.agent.Start(ctx, agentStartTimeout)
	done(&err)
	return err
}

// Detach removes the node agent (its namespace); the cluster itself is left as it is.
func (p *Provider) Detach(ctx context.Context) (err error) {
	done := topology.StepTimer(p.progress, fmt.Sprintf("remove the node agent (namespace %s)", AgentNamespace))
	err = p.agent.Stop(ctx, agentStartTimeout)
	done(&err)
	return err
}

// discover reads the topology once per provider: nodes and mirror Pods do not change
// under a run (a fault that stops a component leaves its mirror Pod's node).
func (p *Provider) discover(ctx context.Context) (Topology, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.discovered != nil {
		return *p.discovered, nil
	}
	t, err := Discover(ctx, p.client, p.config.Host)
	if err != nil {
		return Topology{}, err
	}
	p.discovered = &t
	return t, nil
}

// Create refuses: hachaos never creates a cluster it is given.
func (p *Provider) Create(context.Context) error {
	return errors.New("provider existing: hachaos does not create clusters it is given; bring the cluster up yourself and name its kubeconfig")
}

// Exists reports whether the cluster answers through its kubeconfig.
func (p *Provider) Exists(ctx context.Context) (bool, error) {
	if _, err := p.client.Discovery().ServerVersion(); err != nil {
		return false, fmt.Errorf("the cluster behind %s does not answer: %w", p.spec.Kubeconfig, err)
	}
	return true, nil
}

// Delete removes only what hachaos started in the cluster (Detach); never the cluster.
func (p *Provider) Delete(ctx context.Context) error { return p.Detach(ctx) }

// Nodes lists the discovered nodes with the given role (every node for ""), sorted by
// name. External etcd
// members are nodes of role etcd named by their client URLs' hosts, with no commands in
// them; the load balancer is not a node hachaos can act in, so none has that role.
func (p *Provider) Nodes(ctx context.Context, role topology.Role) ([]topology.Node, error) {
	t, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	var out []topology.Node
	if role == "" || role == topology.RoleControlPlane {
		out = append(out, nodesOf(t.ControlPlanes, topology.RoleControlPlane)...)
	}
	if role == "" || role == topology.RoleWorker {
		out = append(out, nodesOf(t.Workers, topology.RoleWorker)...)
	}
	if (role == "" || role == topology.RoleEtcd) && t.EtcdMode == topology.EtcdExternal {
		for _, u := range t.EtcdMembers {
			host, _ := hostOf(u)
			out = append(out, topology.Node{Name: host, Role: topology.RoleEtcd, IP: host})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func nodesOf(nodes []Node, role topology.Role) []topology.Node {
	out := make([]topology.Node, len(nodes))
	for i, n := range nodes {
		out[i] = topology.Node{Name: n.Name, Role: role, IP: n.Address}
	}
	return out
}

// RESTConfig is the kubeconfig's configuration: through its server, the load balancer.
func (p *Provider) RESTConfig(context.Context) (*rest.Config, error) {
	return rest.CopyConfig(p.config), nil
}

// APIServerConfigs is one configuration per API server, at its node's address and
// --secure-port (read from its mirror Pod), bypassing the load balancer; kubeadm's
// serving certificates name the node's address.
func (p *Provider) APIServerConfigs(ctx context.Context) (map[string]*rest.Config, error) {
	nodes, err := p.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*rest.Config, len(nodes))
	for _, n := range nodes {
		port, err := p.apiServerPort(ctx, n.Name)
		if err != nil {
			return nil, err
		}
		cfg := rest.CopyConfig(p.config)
		cfg.Host = "https://" + net.JoinHostPort(n.IP, port)
		out[n.Name] = cfg
	}
	return out, nil
}

// apiServerPort is --secure-port of the API server's mirror Pod on node (6443 when unset).
func (p *Provider) apiServerPort(ctx context.Context, node string) (string, error) {
	pod, err := p.client.CoreV1().Pods("kube-system").Get(ctx, "kube-apiserver-"+node, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("the API server's mirror Pod on %s: %w", node, err)
	}
	for _, c := range pod.Spec.Containers {
		for _, arg := range append(append([]string{}, c.Command...), c.Args...) {
			if v, ok := strings.CutPrefix(arg, "--secure-port="); ok {
				return v, nil
			}
		}
	}
	return "6443", nil
}

// Etcd is access to the members kube-apiserver names (stacked: each control plane's
// address, port 2379) with the API server's own etcd client certificate, read through
// the agent from the first control plane and held in memory only.
func (p *Provider) Etcd(ctx context.Context) (cluster.EtcdAccess, error) {
	p.mu.Lock()
	cached := p.etcdAccess
	p.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	access, err := p.loadEtcdAccess(ctx)
	if err != nil {
		return cluster.EtcdAccess{}, err
	}
	p.mu.Lock()
	p.etcdAccess = &access
	p.mu.Unlock()
	return access, nil
}

func (p *Provider) loadEtcdAccess(ctx context.Context) (cluster.EtcdAccess, error) {
	t, err := p.discover(ctx)
	if err != nil {
		return cluster.EtcdAccess{}, err
	}
	if len(t.ControlPlanes) == 0 {
		return cluster.EtcdAccess{}, errors.New("no control plane to read the etcd client certificate from")
	}
	from := t.ControlPlanes[0].Name
	if t.EtcdServersFrom != "" {
		from = t.EtcdServersFrom
	}
	files := map[string][]byte{}
	for _, path := range []string{etcdCAFile, etcdClientCertFile, etcdClientKeyFile} {
		if files[path], err = p.agent.Exec(ctx, from, nil, "cat", path); err != nil {
			return cluster.EtcdAccess{}, fmt.Errorf("read the etcd client credentials on %s: %w", from, err)
		}
	}
	tlsConfig, err := cluster.EtcdClientTLS(files[etcdCAFile], files[etcdClientCertFile], files[etcdClientKeyFile])
	if err != nil {
		return cluster.EtcdAccess{}, err
	}
	access := cluster.EtcdAccess{Members: map[string]string{}, TLS: tlsConfig}
	if t.EtcdMode == topology.EtcdStacked {
		for _, n := range t.ControlPlanes {
			access.Members[n.Name] = "https://" + net.JoinHostPort(n.Address, "2379")
		}
		return access, nil
	}
	for _, u := range t.EtcdMembers {
		host, _ := hostOf(u)
		access.Members[host] = u
	}
	return access, nil
}

// kubeadm's etcd CA and the API server's etcd client identity.
const (
	etcdCAFile         = "/etc/kubernetes/pki/etcd/ca.crt"
	etcdClientCertFile = "/etc/kubernetes/pki/apiserver-etcd-client.crt"
	etcdClientKeyFile  = "/etc/kubernetes/pki/apiserver-etcd-client.key"
)

// LoadBalancer is the kubeconfig's server and the HAProxy stats socket the Spec names.
func (p *Provider) LoadBalancer(context.Context) (cluster.LoadBalancerAccess, error) {
	return cluster.LoadBalancerAccess{Server: p.config.Host, StatsAddress: p.spec.LoadBalancer.StatsAddress}, nil
}

// Exec runs a command on a node through the agent (Agent.Exec).
func (p *Provider) Exec(ctx context.Context, node string, stdin io.Reader, cmd ...string) ([]byte, error) {
	return p.agent.Exec(ctx, node, stdin, cmd...)
}

// errNoMachines is what the machine-level methods answer: the capability is lacking.
var errNoMachines = errors.New("provider existing: hachaos cannot act on a node's machine (no hypervisor or container runtime of its own)")

// NodeAction is not possible: the provider lacks CapabilityNodeMachines.
func (p *Provider) NodeAction(context.Context, string, topology.NodeAction) error {
	return errNoMachines
}

// LimitCPUs is not possible: the provider lacks CapabilityCPULimits.
func (p *Provider) LimitCPUs(context.Context, string, float64) error { return errNoMachines }

// NodeState is what hachaos can know of a machine it does not run: running (it never
// stops or pauses one), since an unknown time. From the discovered topology, not the
// API: effect checks ask while faults may have taken etcd's quorum away.
func (p *Provider) NodeState(ctx context.Context, node string) (topology.NodeState, error) {
	t, err := p.discover(ctx)
	if err != nil {
		return topology.NodeState{}, err
	}
	for _, n := range append(append([]Node{}, t.ControlPlanes...), t.Workers...) {
		if n.Name == node {
			return topology.NodeState{Running: true}, nil
		}
	}
	return topology.NodeState{}, fmt.Errorf("no node %q in the cluster", node)
}

// CollectLogs writes the logs of the control-plane Pods (kube-system, tier=control-plane)
// below dir, through the API.
func (p *Provider) CollectLogs(ctx context.Context, dir string) error {
	pods, err := p.client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil {
		return fmt.Errorf("list control-plane Pods: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, pod := range pods.Items {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		data, err := p.client.CoreV1().Pods("kube-system").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(lctx)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("logs of %s: %w", pod.Name, err))
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, pod.Name+".log"), data, 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Capabilities: commands in nodes through the agent; no machines, CPU limits or LB
// configuration of hachaos' own.
func (p *Provider) Capabilities() topology.Capabilities {
	c := topology.Capabilities{Provider: topology.ProviderExisting, Lacking: map[topology.Capability]string{
		topology.CapabilityNodeMachines: "an existing cluster's machines are not hachaos' to stop, pause or crash",
		topology.CapabilityCPULimits:    "an existing cluster's machines are not hachaos' to limit",
		topology.CapabilityLBConfig:     "an existing cluster's load balancer is not hachaos' to reconfigure",
	}}
	if !p.spec.LBStatesReadable() {
		c.Lacking[topology.CapabilityLBStates] = "loadBalancer.statsAddress is not set: the LB's view of its servers (HAProxy's stats socket) cannot be read"
	}
	return c
}

// Recorded is false: hachaos did not create this cluster.
func (p *Provider) Recorded() (topology.Spec, bool) { return topology.Spec{}, false }
