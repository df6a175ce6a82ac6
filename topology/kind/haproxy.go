package kind

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

const (
	apiServerPort   = 6443
	haproxyStatPort = topology.HAProxyStatsPort
	haproxyCfgDir   = "/usr/local/etc/haproxy"
)

// haproxyTemplate is the load balancer the suites measure, drawn as the HA reference
// design draws it: TCP passthrough (clients verify the API servers end to end), an HTTPS
// health check on each API server, and every timing from the Spec. Servers are found by
// name through Docker's DNS, so a restarted node with a new address is followed.
var haproxyTemplate = template.Must(template.New("haproxy.cfg").Funcs(template.FuncMap{"ms": ms}).Parse(`# Written by hachaos from the topology Spec; do not edit.
global
  master-worker
  # read by the harness: which backends are UP is evidence for the rerouting verdicts
  stats socket ipv4@0.0.0.0:{{.StatsPort}} level user
  # the upgrade takes a control plane out of rotation through this one, from inside
  # this container only
  stats socket ipv4@127.0.0.1:{{.AdminPort}} level admin

defaults
  mode tcp
  timeout connect {{ms .LB.ConnectTimeout.Duration}}
  timeout client {{ms .LB.ClientTimeout.Duration}}
  timeout server {{ms .LB.ServerTimeout.Duration}}
  timeout check {{ms .LB.CheckTimeout.Duration}}
  retries {{.LB.Retries}}
{{- if .LB.Redispatch}}
  option redispatch 1
{{- end}}
  default-server init-addr last,libc,none resolvers docker inter {{ms .LB.CheckInterval.Duration}} fastinter {{ms .LB.FastInterval.Duration}} downinter {{ms .LB.DownInterval.Duration}} fall {{.LB.Fall}} rise {{.LB.Rise}}{{if .LB.ShutdownSessionsOnDown}} on-marked-down shutdown-sessions{{end}}

resolvers docker
  nameserver dns 127.0.0.11:53
  hold valid 1s

frontend kube-apiserver
  bind *:{{.Port}}
  default_backend {{.Backend}}

backend {{.Backend}}
  option httpchk GET {{.LB.HealthCheckPath}}
  http-check expect status 200
{{- range .Servers}}
  server {{.}} {{.}}:{{$.Port}} check check-ssl verify none
{{- end}}
`))

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// renderHAProxy returns haproxy.cfg for the given control-plane node names (the
// negative control without health checks edits it in place: fault.LBNoChecks).
func renderHAProxy(lb topology.LoadBalancerSpec, servers []string) ([]byte, error) {
	var buf bytes.Buffer
	err := haproxyTemplate.Execute(&buf, struct {
		LB              topology.LoadBalancerSpec
		Servers         []string
		Port, StatsPort int
		AdminPort       int
		Backend         string
	}{lb, servers, apiServerPort, haproxyStatPort, topology.HAProxyAdminPort, topology.HAProxyAPIBackend})
	if err != nil {
		return nil, fmt.Errorf("render haproxy.cfg: %w", err)
	}
	return buf.Bytes(), nil
}

// replaceLoadBalancer swaps kind's load balancer container (Envoy, or the HAProxy stand-in
// that bootstraps offline) for HAProxy configured from the Spec. The new container keeps
// the old one's name, hostname, kind labels, address and host port, so kind's kubeconfig,
// the kubelets and `kind delete` keep working; measured gap here about half a second.
func (p *Provider) replaceLoadBalancer(ctx context.Context, servers []string) error {
	name := p.loadBalancerName()
	old, err := p.docker.inspect(ctx, name)
	if err != nil {
		return err
	}
	cfgDir := filepath.Join(p.stateDir, "haproxy")
	cfg, err := renderHAProxy(p.spec.LoadBalancer, servers)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", cfgDir, err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "haproxy.cfg"), cfg, 0o644); err != nil {
		return fmt.Errorf("write haproxy.cfg: %w", err)
	}
	opts, err := p.haproxyContainer(old, cfgDir)
	if err != nil {
		return err
	}
	if err := p.docker.removeForce(ctx, name); err != nil {
		return err
	}
	if err := p.docker.createAndStart(ctx, opts); err != nil {
		return err
	}
	return p.waitForBackend(ctx)
}

// waitForBackend returns once the new HAProxy routes to at least one API server, so
// whatever follows the swap (kubeconfig users, the readiness gate) does not race its
// first health checks.
func (p *Provider) waitForBackend(ctx context.Context) error {
	lb, err := p.LoadBalancer(ctx)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		states, err := topology.ReadHAProxyBackends(ctx, lb.StatsAddress, cluster.HAProxyBackend)
		if last = err; err != nil {
			return false, nil
		}
		for _, s := range states {
			if s.Up() {
				return true, nil
			}
		}
		last = fmt.Errorf("no API server UP yet: %v", states)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("new load balancer routes to no API server after 1m: %v (%w)", last, err)
	}
	return nil
}

func (p *Provider) haproxyContainer(old container.InspectResponse, cfgDir string) (client.ContainerCreateOptions, error) {
	apiPort := network.MustParsePort(fmt.Sprintf("%d/tcp", apiServerPort))
	statsPort := network.MustParsePort(fmt.Sprintf("%d/tcp", haproxyStatPort))
	bindings := old.HostConfig.PortBindings[apiPort]
	if len(bindings) == 0 {
		return client.ContainerCreateOptions{}, fmt.Errorf("load balancer %s publishes no port %d", old.Name, apiServerPort)
	}
	netName := networkName(p.spec.Name)
	ip := old.NetworkSettings.Networks[netName].IPAddress
	labels := map[string]string{}
	for k, v := range old.Config.Labels {
		if k == kindClusterLabel || k == kindRoleLabel {
			labels[k] = v
		}
	}
	labels[hachaosRoleLabel] = string(topology.RoleLoadBalancer)
	loopback := netip.MustParseAddr("127.0.0.1")
	return client.ContainerCreateOptions{
		Name: p.loadBalancerName(),
		Config: &container.Config{
			Image:        p.spec.LoadBalancer.Image,
			Hostname:     p.loadBalancerName(),
			Labels:       labels,
			ExposedPorts: network.PortSet{apiPort: {}, statsPort: {}},
		},
		HostConfig: &container.HostConfig{
			// writable: the LB check-path sabotage (fault.LBCheckPath) edits it in place
			Binds: []string{cfgDir + ":" + haproxyCfgDir},
			PortBindings: network.PortMap{
				apiPort:   bindings,
				statsPort: {{HostIP: loopback, HostPort: "0"}}, // stats only on the host's loopback
			},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 1},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}},
		}},
	}, nil
}

func (p *Provider) loadBalancerName() string { return p.spec.Name + "-external-load-balancer" }
