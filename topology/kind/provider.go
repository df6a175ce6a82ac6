// Package kind is the first topology provider: it brings a Spec up as a kind cluster,
// with kind used as a Go library (sigs.k8s.io/kind/pkg/cluster) and Docker reached through
// the Docker Engine Go client. On top of kind it replaces the load balancer with HAProxy
// configured from the Spec and, for external etcd, runs the members as containers of their
// own with a PKI it generates. It must not inject faults or judge guarantees.
package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Provider is a topology on kind. It is safe for concurrent use.
type Provider struct {
	spec     topology.Spec
	stateDir string
	progress topology.Progress
	docker   *docker
	kind     *kindcluster.Provider

	mu         sync.Mutex
	restConfig *rest.Config
	etcdAccess *cluster.EtcdAccess
}

var _ cluster.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option interface{ apply(*Provider) error }

type optionFunc func(*Provider) error

func (f optionFunc) apply(p *Provider) error { return f(p) }

// WithStateDir sets where the provider keeps a cluster's files (kubeconfig, haproxy.cfg,
// external etcd PKI). Default: $HACHAOS_STATE or ~/.cache/hachaos/clusters, plus the name.
func WithStateDir(dir string) Option {
	return optionFunc(func(p *Provider) error {
		if dir == "" {
			return errors.New("state dir must not be empty")
		}
		p.stateDir = filepath.Join(dir, p.spec.Name)
		return nil
	})
}

// WithProgress sets where progress lines go (default: standard error).
func WithProgress(progress topology.Progress) Option {
	return optionFunc(func(p *Provider) error {
		p.progress = progress
		return nil
	})
}

// New returns a provider for spec, which must already be valid.
func New(spec topology.Spec, opts ...Option) (*Provider, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	d, err := newDocker()
	if err != nil {
		return nil, err
	}
	p := &Provider{
		spec:     spec,
		docker:   d,
		progress: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
		kind:     kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(kindcmd.NewLogger())),
	}
	p.stateDir = filepath.Join(cluster.StateRoot(), spec.Name)
	for _, o := range opts {
		if err := o.apply(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// StateDir is where this cluster's files live.
func (p *Provider) StateDir() string { return p.stateDir }

// LedgerPath is the file where faults injected into this topology are recorded until
// they are recovered (see fault.Ledger).
func (p *Provider) LedgerPath() string { return filepath.Join(p.stateDir, "faults.json") }

// KubeconfigPath is the kubeconfig kind wrote for this cluster (through the load balancer).
func (p *Provider) KubeconfigPath() string { return filepath.Join(p.stateDir, "kubeconfig") }

// Create brings the topology up from nothing. On failure it removes what it created.
func (p *Provider) Create(ctx context.Context) (err error) {
	if exists, err := p.Exists(ctx); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("a cluster named %q exists already (make cluster-down, or reuse it)", p.spec.Name)
	}
	if err := p.checkImages(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			p.progress("creation failed; removing what was created")
			if derr := p.Delete(context.WithoutCancel(ctx)); derr != nil {
				err = errors.Join(err, fmt.Errorf("cleanup after failed create: %w", derr))
			}
		}
	}()
	if err := os.MkdirAll(p.stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	if err := p.recordSpec(); err != nil {
		return err
	}
	return p.create(ctx)
}

func (p *Provider) create(ctx context.Context) error {
	subnet, err := p.docker.ensureNetwork(ctx, p.spec.Name)
	if err != nil {
		return err
	}
	p.progress("network %s: %s", networkName(p.spec.Name), subnet)
	var endpoints []string
	if p.spec.Etcd.Mode == topology.EtcdExternal {
		if endpoints, err = p.createExternalEtcd(ctx, subnet); err != nil {
			return err
		}
	}
	cfg, err := kindConfig(p.spec, endpoints, p.pkiDir())
	if err != nil {
		return err
	}
	if err := p.kindCreate(cfg); err != nil {
		return err
	}
	if p.spec.LoadBalancer.Type == topology.LBHAProxy {
		done := topology.StepTimer(p.progress, "replace kind's load balancer with HAProxy from the Spec")
		err = p.replaceLoadBalancer(ctx, p.controlPlaneNames(ctx))
		done(&err)
		if err != nil {
			return err
		}
	}
	if p.spec.Sabotage.SchedulerOutsideLeaderElection {
		return p.schedulerOutsideLeaderElection(ctx)
	}
	return nil
}

// LimitCPUs implements cluster.Provider. Lifting the cap sets it to the host's core
// count: Docker's update leaves a zero limit unchanged.
func (p *Provider) LimitCPUs(ctx context.Context, node string, cpus float64) error {
	if cpus <= 0 {
		cpus = float64(runtime.NumCPU())
	}
	return p.docker.limitCPUs(ctx, node, cpus)
}

// kindCreate runs kind's create on the cluster's own network. kind reads the network name
// from its environment only, so it is set around the call.
func (p *Provider) kindCreate(cfg *v1alpha4.Cluster) (err error) {
	defer topology.StepTimer(p.progress, fmt.Sprintf("kind create %s (%d control planes, %d workers; ~90 s here)",
		p.spec.Name, p.spec.ControlPlanes, p.spec.Workers))(&err)
	const envNetwork = "KIND_EXPERIMENTAL_DOCKER_NETWORK"
	old, had := os.LookupEnv(envNetwork)
	os.Setenv(envNetwork, networkName(p.spec.Name))
	defer func() {
		if had {
			os.Setenv(envNetwork, old)
		} else {
			os.Unsetenv(envNetwork)
		}
	}()
	return p.kind.Create(p.spec.Name, kindcluster.CreateWithV1Alpha4Config(cfg),
		kindcluster.CreateWithKubeconfigPath(p.KubeconfigPath()),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false))
}

func (p *Provider) controlPlaneNames(ctx context.Context) []string {
	nodes, _ := p.Nodes(ctx, topology.RoleControlPlane)
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names
}

// checkImages fails early, before anything is created, when an image is missing.
func (p *Provider) checkImages(ctx context.Context) error {
	images := []string{p.spec.Kubernetes.Image()}
	if p.spec.LoadBalancer.Type == topology.LBHAProxy {
		images = append(images, p.spec.LoadBalancer.Image)
	}
	if p.spec.Etcd.Mode == topology.EtcdExternal {
		images = append(images, p.spec.Etcd.Image)
	}
	var missing []string
	for _, img := range images {
		if !p.docker.imageExists(ctx, img) {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("images not found locally: %s (build them offline with `make images`, or docker pull them)",
			strings.Join(missing, ", "))
	}
	return nil
}

// Exists reports whether any container or the network of this cluster exists.
func (p *Provider) Exists(ctx context.Context) (bool, error) {
	for _, label := range []string{kindClusterLabel, hachaosClusterLabel} {
		cs, err := p.docker.containersByLabel(ctx, label, p.spec.Name)
		if err != nil {
			return false, err
		}
		if len(cs) > 0 {
			return true, nil
		}
	}
	_, err := p.docker.networkSubnet(ctx, networkName(p.spec.Name))
	return err == nil, nil
}

// Delete removes the kind nodes, the load balancer, external etcd members, the network
// and the state folder. What is already gone is skipped.
func (p *Provider) Delete(ctx context.Context) (err error) {
	defer topology.StepTimer(p.progress, "delete cluster "+p.spec.Name)(&err)
	if err := p.kind.Delete(p.spec.Name, p.KubeconfigPath()); err != nil {
		return fmt.Errorf("kind delete %s: %w", p.spec.Name, err)
	}
	own, err := p.docker.containersByLabel(ctx, hachaosClusterLabel, p.spec.Name)
	if err != nil {
		return err
	}
	for _, c := range own {
		if err := p.docker.removeForce(ctx, c.ID); err != nil {
			return err
		}
	}
	if err := p.docker.removeNetwork(ctx, p.spec.Name); err != nil {
		return err
	}
	p.mu.Lock()
	p.restConfig, p.etcdAccess = nil, nil
	p.mu.Unlock()
	return os.RemoveAll(p.stateDir)
}

// Capabilities implements cluster.Provider: kind's nodes are containers hachaos runs,
// so it can do everything a fault needs.
func (p *Provider) Capabilities() topology.Capabilities {
	return topology.Capabilities{Provider: "kind"}
}

// Recorded returns the Spec this cluster was created from, if it was created by hachaos.
func (p *Provider) Recorded() (topology.Spec, bool) {
	data, err := os.ReadFile(filepath.Join(p.stateDir, "spec.json"))
	if err != nil {
		return topology.Spec{}, false
	}
	var s topology.Spec
	if json.Unmarshal(data, &s) != nil {
		return topology.Spec{}, false
	}
	return s, true
}

func (p *Provider) recordSpec() error {
	data, err := json.MarshalIndent(p.spec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode spec: %w", err)
	}
	return os.WriteFile(filepath.Join(p.stateDir, "spec.json"), data, 0o600)
}

// Nodes lists the cluster's containers with the given role ("" for all), sorted by name.
func (p *Provider) Nodes(ctx context.Context, role topology.Role) ([]topology.Node, error) {
	var out []topology.Node
	for _, label := range []string{kindClusterLabel, hachaosClusterLabel} {
		cs, err := p.docker.containersByLabel(ctx, label, p.spec.Name)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			n := topology.Node{Name: strings.TrimPrefix(c.Names[0], "/"), ContainerID: c.ID, Role: roleOf(c.Labels), Command: c.Command}
			if role != "" && n.Role != role || containsNode(out, n.Name) {
				continue
			}
			if net := c.NetworkSettings; net != nil && net.Networks[networkName(p.spec.Name)] != nil {
				n.IP = net.Networks[networkName(p.spec.Name)].IPAddress.String()
			}
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func roleOf(labels map[string]string) topology.Role {
	if r := labels[hachaosRoleLabel]; r != "" {
		return topology.Role(r)
	}
	switch labels[kindRoleLabel] {
	case "control-plane":
		return topology.RoleControlPlane
	case "worker":
		return topology.RoleWorker
	case "external-load-balancer":
		return topology.RoleLoadBalancer
	}
	return topology.Role(labels[kindRoleLabel])
}

func containsNode(nodes []topology.Node, name string) bool {
	for _, n := range nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}
