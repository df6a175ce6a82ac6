package suites

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// TopologySpecInput is what TopologySpec checks: a running topology and the Spec it
// should match.
type TopologySpecInput struct {
	Spec     topology.Spec
	Provider cluster.Provider
}

func (in TopologySpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "TopologySpecInput.Provider is required")
	Expect(in.Spec.Validate()).To(Succeed(), "TopologySpecInput.Spec must be a valid Spec")
}

// TopologySpec asserts that the running topology is the HA layout its Spec describes.
// Each It would fail on a wrong topology: a missing node, a lost etcd member, API servers
// wired to the wrong etcd endpoints, a load balancer that skips a server, or timeouts the
// profile did not reach.
func TopologySpec(inputGetter func() TopologySpecInput) {
	var (
		in     TopologySpecInput
		client kubernetes.Interface
	)
	BeforeEach(func(ctx SpecContext) {
		in = inputGetter()
		in.validate()
		// Specs run in random order on one cluster: one that follows a fault waits for
		// the gate first, so a cluster still healing is "not ready", not "not the Spec".
		expectEnvironmentReady(ctx, in.Spec, in.Provider)
		cfg, err := in.Provider.RESTConfig(ctx)
		Expect(err).NotTo(HaveOccurred(), "REST config through the load balancer")
		client = kubernetes.NewForConfigOrDie(cfg)
		judging() // what fails from here on is the topology the Spec promises
	})

	It("has the control planes and workers the Spec asks for, all Ready", func(ctx SpecContext) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		var controlPlanes, workers []string
		for _, n := range nodes.Items {
			Expect(readyCondition(n)).To(Equal(corev1.ConditionTrue), "node %s Ready", n.Name)
			if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
				controlPlanes = append(controlPlanes, n.Name)
			} else {
				workers = append(workers, n.Name)
			}
		}
		Expect(controlPlanes).To(HaveLen(in.Spec.ControlPlanes), "control-plane nodes")
		Expect(workers).To(HaveLen(in.Spec.Workers), "worker nodes")
		Expect(nodeNames(ctx, in.Provider, topology.RoleControlPlane)).To(ConsistOf(controlPlanes),
			"the provider's control-plane containers are the cluster's control-plane nodes")
	})

	It("runs kube-apiserver, kube-scheduler and kube-controller-manager on every control plane", func(ctx SpecContext) {
		for _, node := range nodeNames(ctx, in.Provider, topology.RoleControlPlane) {
			for _, component := range []string{"kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
				pod, err := client.CoreV1().Pods("kube-system").Get(ctx, component+"-"+node, metav1.GetOptions{})
				Expect(err).NotTo(HaveOccurred(), "%s on %s", component, node)
				Expect(pod.Status.Phase).To(Equal(corev1.PodRunning), "%s on %s", component, node)
				Expect(pod.Spec.NodeName).To(Equal(node))
			}
		}
	})

	It("has an etcd cluster of the Spec's size, every member healthy, one leader", func(ctx SpecContext) {
		access, err := in.Provider.Etcd(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(access.Members).To(HaveLen(in.Spec.Etcd.Members), "etcd members the provider knows")
		Expect(cluster.CheckEtcd(ctx, access, in.Spec.Etcd.Members)).To(Succeed())
		leaders := etcdLeaders(ctx, access)
		Expect(leaders).To(HaveLen(1), "every member names the same leader")
	})

	It("wires every API server to etcd as the etcd mode says", func(ctx SpecContext) {
		access, err := in.Provider.Etcd(ctx)
		Expect(err).NotTo(HaveOccurred())
		for _, node := range nodeNames(ctx, in.Provider, topology.RoleControlPlane) {
			servers := flagValue(ctx, client, "kube-apiserver-"+node, "--etcd-servers")
			if in.Spec.Etcd.Mode == topology.EtcdStacked {
				// kubeadm's stacked layout: each API server talks only to its local member
				Expect(servers).To(Equal("https://127.0.0.1:2379"), "etcd servers of %s", node)
			} else {
				// the reference design's external layout: every API server knows every member
				Expect(strings.Split(servers, ",")).To(ConsistOf(access.Endpoints()), "etcd servers of %s", node)
				_, err := client.CoreV1().Pods("kube-system").Get(ctx, "etcd-"+node, metav1.GetOptions{})
				Expect(err).To(HaveOccurred(), "no stacked etcd Pod on %s in external mode", node)
			}
		}
	})

	It("answers /readyz on every API server directly", func(ctx SpecContext) {
		cfgs, err := in.Provider.APIServerConfigs(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfgs).To(HaveLen(in.Spec.ControlPlanes))
		for name, cfg := range cfgs {
			Expect(cluster.Readyz(ctx, cfg)).To(Succeed(), "/readyz of %s", name)
		}
	})

	It("reaches every API server through the load balancer", func(ctx SpecContext) {
		// three distinct identity Leases: three API servers are alive and writing
		leases, err := client.CoordinationV1().Leases("kube-system").List(ctx,
			metav1.ListOptions{LabelSelector: "apiserver.kubernetes.io/identity=kube-apiserver"})
		Expect(err).NotTo(HaveOccurred())
		Expect(leases.Items).To(HaveLen(in.Spec.ControlPlanes), "kube-apiserver identity Leases")
		if in.Spec.LoadBalancer.Type != topology.LBHAProxy {
			Skip("backend session counts need hachaos' HAProxy (loadBalancer.type: haproxy)")
		}
		if !in.Spec.LBStatesReadable() {
			Skip("not applicable past the identity Leases: the LB's session counts per server need its stats socket, and loadBalancer.statsAddress is not set")
		}
		expectEveryBackendServes(ctx, in)
	})

	It("holds the scheduler and controller-manager Leases with the profile's timings", func(ctx SpecContext) {
		t := in.Spec.ResolvedTimeouts()
		controlPlanes := nodeNames(ctx, in.Provider, topology.RoleControlPlane)
		for name, le := range map[string]topology.LeaderElection{"kube-scheduler": t.Scheduler, "kube-controller-manager": t.ControllerManager} {
			lease, err := client.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			s := lease.Spec
			Expect(s.HolderIdentity).NotTo(BeNil(), "%s Lease holder", name)
			// holders identify themselves as <node>_<uuid>
			holderNode, _, _ := strings.Cut(*s.HolderIdentity, "_")
			Expect(controlPlanes).To(ContainElement(holderNode), "%s Lease held by a control plane", name)
			Expect(s.LeaseDurationSeconds).NotTo(BeNil())
			Expect(time.Duration(*s.LeaseDurationSeconds)*time.Second).To(Equal(le.LeaseDuration.Duration),
				"%s lease duration is the profile's (%s)", name, in.Spec.Profile)
			Expect(time.Since(s.RenewTime.Time)).To(BeNumerically("<", le.LeaseDuration.Duration), "%s Lease renewed within its duration", name)
		}
		// a flag left unset runs at the component's default, the upstream profile's (a
		// cluster kubeadm made on its own sets none of them)
		upstream, err := topology.Profile(topology.ProfileUpstream)
		Expect(err).NotTo(HaveOccurred())
		for _, node := range controlPlanes {
			Expect(flagValueOr(ctx, client, "kube-controller-manager-"+node, "--node-monitor-grace-period", upstream.NodeMonitorGracePeriod.Duration.String())).
				To(Equal(t.NodeMonitorGracePeriod.Duration.String()), "node-monitor-grace-period on %s", node)
		}
	})
}

// expectEveryBackendServes opens new connections through the load balancer and requires
// that HAProxy sent some to every API server: all UP, and every session counter moved.
func expectEveryBackendServes(ctx context.Context, in TopologySpecInput) {
	lb, err := in.Provider.LoadBalancer(ctx)
	Expect(err).NotTo(HaveOccurred())
	before, err := topology.ReadHAProxyBackends(ctx, lb.StatsAddress, cluster.HAProxyBackend)
	Expect(err).NotTo(HaveOccurred())
	Expect(before).To(HaveLen(in.Spec.ControlPlanes), "servers behind the load balancer")
	for _, b := range before {
		Expect(b.Up()).To(BeTrue(), "%s is %s in the load balancer", b.Server, b.Status)
	}
	cfg, err := in.Provider.RESTConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	// round robin over N servers: 4N fresh connections reach each server several times
	tlsConfig, err := rest.TLSConfigFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	httpClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true}}
	for i := 0; i < 4*in.Spec.ControlPlanes; i++ {
		resp, err := httpClient.Get(cfg.Host + "/readyz")
		Expect(err).NotTo(HaveOccurred(), "GET /readyz through the load balancer")
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
	}
	after, err := topology.ReadHAProxyBackends(ctx, lb.StatsAddress, cluster.HAProxyBackend)
	Expect(err).NotTo(HaveOccurred())
	for i, b := range after {
		Expect(b.Sessions).To(BeNumerically(">", before[i].Sessions), "new connections through the LB reached %s", b.Server)
	}
}

func readyCondition(n corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func nodeNames(ctx context.Context, p cluster.Provider, role topology.Role) []string {
	nodes, err := p.Nodes(ctx, role)
	Expect(err).NotTo(HaveOccurred(), "list %s nodes", role)
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names
}

// flagValue reads --name=value from a static Pod's command line; a missing flag fails.
func flagValue(ctx context.Context, client kubernetes.Interface, pod, name string) string {
	v, ok := podFlag(ctx, client, pod, name)
	if !ok {
		Fail(fmt.Sprintf("Pod %s has no %s flag", pod, name))
	}
	return v
}

// flagValueOr is flagValue, or def (the component's default) when the flag is unset.
func flagValueOr(ctx context.Context, client kubernetes.Interface, pod, name, def string) string {
	if v, ok := podFlag(ctx, client, pod, name); ok {
		return v
	}
	return def
}

func podFlag(ctx context.Context, client kubernetes.Interface, pod, name string) (string, bool) {
	p, err := client.CoreV1().Pods("kube-system").Get(ctx, pod, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred(), "get Pod %s", pod)
	args := slices.Concat(p.Spec.Containers[0].Command, p.Spec.Containers[0].Args)
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// etcdLeaders is the set of leader IDs the members report.
func etcdLeaders(ctx context.Context, access cluster.EtcdAccess) []uint64 {
	cli, err := access.Client()
	Expect(err).NotTo(HaveOccurred())
	defer cli.Close()
	var leaders []uint64
	for name, url := range access.Members {
		st, err := cli.Status(ctx, url)
		Expect(err).NotTo(HaveOccurred(), "status of etcd member %s", name)
		if !slices.Contains(leaders, st.Leader) {
			leaders = append(leaders, st.Leader)
		}
	}
	return leaders
}
