package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hachaos/hachaos/topology"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// HAProxyBackend is the backend name hachaos' haproxy.cfg gives the API servers.
const HAProxyBackend = topology.HAProxyAPIBackend

// checkTimeout bounds one condition check, so one hanging component cannot stall the gate.
const checkTimeout = 5 * time.Second

// Condition is one thing the readiness gate requires; Check returns why it is not yet true.
type Condition struct {
	Name  string
	Check func(ctx context.Context) error
}

// Unmet is a condition that did not hold, and why.
type Unmet struct {
	Name   string
	Reason error
}

func (u Unmet) String() string { return fmt.Sprintf("%s: %v", u.Name, u.Reason) }

// Gate decides whether a running topology is what its Spec says: every node Ready, every
// control-plane component running, etcd whole with one leader, /readyz through the load
// balancer and on each API server, the scheduler and controller-manager Leases held, and
// (for hachaos' HAProxy) every API server UP behind the load balancer but those an
// upgrade has put in maintenance.
type Gate struct {
	spec     topology.Spec
	provider Provider
}

// NewGate returns the readiness gate of spec as brought up by provider.
func NewGate(spec topology.Spec, provider Provider) *Gate {
	return &Gate{spec: spec, provider: provider}
}

// Conditions lists what the gate checks, in the order a cluster comes up.
func (g *Gate) Conditions() []Condition {
	conds := []Condition{
		{"nodes Ready", g.nodesReady},
		{"control-plane components running", g.componentsRunning},
		{"etcd members healthy with one leader", g.etcdHealthy},
		{"/readyz through the load balancer", g.readyzThroughLB},
		{"/readyz on every API server", g.readyzEachServer},
		{"scheduler and controller-manager Leases held", g.leasesHeld},
	}
	if g.spec.LBStatesReadable() {
		conds = append(conds, Condition{"every API server UP in the load balancer (but those in maintenance)", g.backendsUp})
	}
	return conds
}

// Check evaluates every condition once and returns those that do not hold.
func (g *Gate) Check(ctx context.Context) []Unmet {
	var unmet []Unmet
	for _, c := range g.Conditions() {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := c.Check(cctx)
		cancel()
		if err != nil {
			unmet = append(unmet, Unmet{c.Name, err})
		}
	}
	return unmet
}

// Wait polls Check every poll until every condition holds or timeout passes. While it
// waits it reports which conditions are still unmet; on timeout the error lists them.
func (g *Gate) Wait(ctx context.Context, timeout, poll time.Duration, progress topology.Progress) error {
	start := time.Now()
	deadline := start.Add(timeout)
	var lastReport time.Time
	var lastNames string
	for {
		unmet := g.Check(ctx)
		if len(unmet) == 0 {
			progress("✔ topology ready (%s)", time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		names := unmetNames(unmet)
		if names != lastNames || time.Since(lastReport) > 15*time.Second {
			progress("… waiting for the topology (%s of %s): %s", time.Since(start).Round(time.Second), timeout, describe(unmet))
			lastReport, lastNames = time.Now(), names
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topology not ready after %s:\n  - %s", timeout, strings.Join(unmetStrings(unmet), "\n  - "))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the topology: %w (still unmet: %s)", ctx.Err(), names)
		case <-time.After(poll):
		}
	}
}

func unmetNames(u []Unmet) string {
	names := make([]string, len(u))
	for i, x := range u {
		names[i] = x.Name
	}
	return strings.Join(names, "; ")
}

func unmetStrings(u []Unmet) []string {
	out := make([]string, len(u))
	for i, x := range u {
		out[i] = x.String()
	}
	return out
}

func describe(u []Unmet) string {
	s := unmetStrings(u)
	for i := range s {
		if len(s[i]) > 160 {
			s[i] = s[i][:160] + "…"
		}
	}
	return strings.Join(s, "; ")
}

func (g *Gate) client(ctx context.Context) (kubernetes.Interface, error) {
	cfg, err := g.provider.RESTConfig(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = checkTimeout
	return kubernetes.NewForConfig(cfg)
}

func (g *Gate) nodesReady(ctx context.Context) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var controlPlanes, workers int
	var notReady []string
	for _, n := range nodes.Items {
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			controlPlanes++
		} else {
			workers++
		}
		if !nodeReady(n) {
			notReady = append(notReady, n.Name)
		}
	}
	if controlPlanes != g.spec.ControlPlanes || workers != g.spec.Workers {
		return fmt.Errorf("%d control planes and %d workers registered, want %d and %d",
			controlPlanes, workers, g.spec.ControlPlanes, g.spec.Workers)
	}
	if len(notReady) > 0 {
		return fmt.Errorf("not Ready: %s", strings.Join(notReady, ", "))
	}
	return nil
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// componentsRunning checks the static Pods kubeadm names <component>-<node>.
func (g *Gate) componentsRunning(ctx context.Context) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	nodes, err := g.provider.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return err
	}
	pods, err := c.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list kube-system pods: %w", err)
	}
	ready := map[string]bool{}
	for _, p := range pods.Items {
		ready[p.Name] = podReady(p)
	}
	var missing []string
	for _, n := range nodes {
		for _, comp := range []string{"kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
			if name := comp + "-" + n.Name; !ready[name] {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not running and Ready: %s", strings.Join(missing, ", "))
	}
	return nil
}

func podReady(p corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (g *Gate) etcdHealthy(ctx context.Context) error {
	access, err := g.provider.Etcd(ctx)
	if err != nil {
		return err
	}
	return CheckEtcd(ctx, access, g.spec.Etcd.Members)
}

// CheckEtcd requires want members in the member list, every one answering its status,
// and all of them naming the same single leader.
func CheckEtcd(ctx context.Context, access EtcdAccess, want int) error {
	cli, err := access.Client()
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	list, err := cli.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("member list: %w", err)
	}
	if len(list.Members) != want {
		return fmt.Errorf("%d members, want %d", len(list.Members), want)
	}
	leaders := map[uint64]bool{}
	var errs []error
	for name, url := range access.Members {
		st, err := cli.Status(ctx, url)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		leaders[st.Leader] = true
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(leaders) != 1 || leaders[0] {
		return fmt.Errorf("members disagree on the leader or have none: %v", slices.Collect(maps.Keys(leaders)))
	}
	return nil
}

func (g *Gate) readyzThroughLB(ctx context.Context) error {
	cfg, err := g.provider.RESTConfig(ctx)
	if err != nil {
		return err
	}
	return Readyz(ctx, cfg)
}

func (g *Gate) readyzEachServer(ctx context.Context) error {
	cfgs, err := g.provider.APIServerConfigs(ctx)
	if err != nil {
		return err
	}
	if len(cfgs) != g.spec.ControlPlanes {
		return fmt.Errorf("%d API servers found, want %d", len(cfgs), g.spec.ControlPlanes)
	}
	var errs []error
	for name, cfg := range cfgs {
		if err := Readyz(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Readyz GETs /readyz with cfg and requires the answer "ok".
func Readyz(ctx context.Context, cfg *rest.Config) error {
	cfg.Timeout = checkTimeout
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("GET %s/readyz: %w", cfg.Host, err)
	}
	if strings.TrimSpace(string(body)) != "ok" {
		return fmt.Errorf("GET %s/readyz answered %q", cfg.Host, body)
	}
	return nil
}

// leasesHeld requires a holder whose last renewal is within the lease duration.
func (g *Gate) leasesHeld(ctx context.Context) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	var problems []string
	for _, name := range []string{"kube-scheduler", "kube-controller-manager"} {
		l, err := c.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		s := l.Spec
		if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
			problems = append(problems, name+": held by nobody")
			continue
		}
		if age := time.Since(s.RenewTime.Time); age > time.Duration(*s.LeaseDurationSeconds)*time.Second {
			problems = append(problems, fmt.Sprintf("%s: last renewed by %s %s ago (lease %ds)", name, *s.HolderIdentity, age.Round(time.Second), *s.LeaseDurationSeconds))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// backendsUp: every API server UP in HAProxy, but for those in maintenance (MAINT, set
// through its runtime API as an upgrade does around a control plane's steps): out of
// rotation on purpose, not waited for, as long as one other server is UP.
func (g *Gate) backendsUp(ctx context.Context) error {
	lb, err := g.provider.LoadBalancer(ctx)
	if err != nil {
		return err
	}
	states, err := topology.ReadHAProxyBackends(ctx, lb.StatsAddress, HAProxyBackend)
	if err != nil {
		return err
	}
	return backendsProblem(states, g.spec.ControlPlanes)
}

// backendsProblem is backendsUp's judgement of HAProxy's view of the API servers.
func backendsProblem(states []topology.BackendState, controlPlanes int) error {
	var notUp []string
	up, maint := 0, 0
	for _, s := range states {
		switch {
		case s.Up():
			up++
		case s.Status == "MAINT": // set on purpose; "MAINT (resolution)" is a DNS failure
			maint++
		default:
			notUp = append(notUp, s.Server+" "+s.Status)
		}
	}
	if len(states) != controlPlanes || len(notUp) > 0 || up == 0 {
		return fmt.Errorf("%d of %d API servers UP, %d in maintenance (%s)", up, controlPlanes, maint, strings.Join(notUp, ", "))
	}
	return nil
}
