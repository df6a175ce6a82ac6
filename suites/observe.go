package suites

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Series names of the standard observation. A series' sample Value says what was seen.
const (
	seriesLB          = "lb"           // GET through the LB on a new connection
	seriesLBKeepAlive = "lb-keepalive" // the same on one kept-alive connection
	prefixAPIServer   = "apiserver/"   // + node: /readyz on that API server directly (kept-alive connection)
	prefixBackend     = "backend/"     // + node: its state in HAProxy
	prefixLease       = "lease/"       // + component: Value is "<holder's node> <instance>" (leaseNode)
	prefixEtcd        = "etcd/"        // + member: Value is "leader=<member> term=<t> index=<i>"
	seriesWorkload    = "workload"     // Value is "<node>=<ready pods>,…"
)

// Lease names of the leader-elected components, in kube-system.
var leaderElected = []string{"kube-scheduler", "kube-controller-manager"}

// quorumReadEvery is the cadence of the series whose every sample is a quorum read in
// etcd (/readyz runs the API server's etcd check; a Lease GET reads through): five
// such series at 100 ms added 50 reads a second and, on 2 cores, starved the majority
// of a partitioned control plane (its API servers failed their own etcd checks). The
// guarantees' own series — requests through the LB — stay at sampleEvery.
const quorumReadEvery = 250 * time.Millisecond

// kvOpTimeout bounds one etcd operation of the traffic; a write still unanswered by
// then is "may have happened" and the client moves on.
const kvOpTimeout = 2 * time.Second

// kvEvery is the pace of each of the two traffic clients: 20 operations a second in
// all (half of them writes), fine enough to measure a write gap to ~50 ms and light
// enough for a 2-core machine to carry through a control-plane failover.
const kvEvery = 100 * time.Millisecond

// observation is one spec's recording on one clock: the recorder's series and, when
// asked for, etcd traffic with its history.
type observation struct {
	rec  *probe.Recorder
	stop context.CancelFunc
	etcd *clientv3.Client
	// statusClients asks each member (by client URL) for its status on a kept-alive
	// connection of its own.
	statusClients map[string]*cluster.MemberClient
	members       map[uint64]string // etcd member ID → name
	traffic       *probe.KVTraffic
	prefix        string
	timeline      probe.Timeline
	dir           string // where end saves the timeline
	saved         bool
	history       probe.KVHistory
}

// observeInput says what to record besides the standard series.
type observeInput struct {
	Spec     topology.Spec
	Provider cluster.Provider
	// Traffic starts etcd traffic (a writer and reader with a recorded history).
	Traffic bool
	// Workload records the test workload's ready Pods per node.
	Workload *workload
	// ArtifactsDir receives the timeline (and history), also when the spec fails first.
	ArtifactsDir string
}

// startObservation starts every series: the API through the LB (new and kept-alive
// connections), each API server, each HAProxy backend, the Lease holders, each etcd
// member's view of the leader, and optionally etcd traffic and the workload.
func startObservation(ctx context.Context, in observeInput) *observation {
	o := &observation{rec: probe.NewRecorder(), dir: in.ArtifactsDir}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	o.stop = stop
	DeferCleanup(o.finish) // a failing spec still stops its goroutines and saves what it saw
	lbCfg, err := in.Provider.RESTConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	direct, err := in.Provider.APIServerConfigs(ctx)
	Expect(err).NotTo(HaveOccurred())
	o.rec.Poll(rctx, seriesLB, sampleEvery, sampleTimeout, freshConnectionGet(lbCfg, "/api/v1/namespaces/default"))
	o.rec.Poll(rctx, seriesLBKeepAlive, sampleEvery, sampleTimeout, keepAliveGet(lbCfg, "/api/v1/namespaces/default"))
	for node, cfg := range direct {
		// a kept-alive connection: three servers probed ten times a second on new TLS
		// connections cost the 2-core machine's API servers more than the faults do
		o.rec.Poll(rctx, prefixAPIServer+node, quorumReadEvery, sampleTimeout, keepAliveGet(cfg, "/readyz?verbose"))
	}
	if in.Spec.LoadBalancer.Type == topology.LBHAProxy {
		lb, err := in.Provider.LoadBalancer(ctx)
		Expect(err).NotTo(HaveOccurred())
		for node := range direct {
			o.rec.Poll(rctx, prefixBackend+node, sampleEvery, sampleTimeout, backendState(lb.StatsAddress, node))
		}
	}
	leases := kubernetes.NewForConfigOrDie(keepAliveConfig(lbCfg))
	for _, name := range leaderElected {
		o.rec.Poll(rctx, prefixLease+name, quorumReadEvery, sampleTimeout, leaseHolder(leases, name))
	}
	o.startEtcd(ctx, rctx, in)
	if in.Workload != nil {
		o.rec.Poll(rctx, seriesWorkload, sampleEvery, sampleTimeout, in.Workload.readyPerNode(kubernetes.NewForConfigOrDie(keepAliveConfig(lbCfg))))
	}
	return o
}

func (o *observation) startEtcd(ctx, rctx context.Context, in observeInput) {
	access, err := in.Provider.Etcd(ctx)
	Expect(err).NotTo(HaveOccurred())
	o.etcd, err = access.Client()
	Expect(err).NotTo(HaveOccurred(), "etcd client")
	list, err := o.etcd.MemberList(ctx)
	Expect(err).NotTo(HaveOccurred(), "etcd member list")
	o.members = map[uint64]string{}
	for _, m := range list.Members {
		o.members[m.ID] = m.Name
	}
	o.statusClients = map[string]*cluster.MemberClient{}
	for name, url := range access.Members {
		mc, err := access.MemberClient(url)
		Expect(err).NotTo(HaveOccurred(), "etcd client for member %s", name)
		o.statusClients[url] = mc
		o.rec.Poll(rctx, prefixEtcd+name, sampleEvery, sampleTimeout, etcdMemberStatus(mc, o.members))
	}
	if !in.Traffic {
		return
	}
	o.prefix = fmt.Sprintf("/hachaos/%s/%d/", in.Spec.Name, time.Now().UnixNano())
	o.traffic, err = probe.StartKVTraffic(rctx, probe.KVTrafficConfig{
		Client: o.etcd, Prefix: o.prefix, Every: kvEvery, Timeout: kvOpTimeout, Clients: 2, Clock: o.rec.Since,
	})
	Expect(err).NotTo(HaveOccurred(), "start etcd traffic")
}

// end stops recording and returns the timeline (and the etcd history, if there was
// traffic); both are saved to the artifacts folder under the spec's name.
func (o *observation) end(dir string) (probe.Timeline, probe.KVHistory) {
	o.stop()
	if o.traffic != nil {
		o.history = o.traffic.Stop()
		o.traffic = nil
	}
	o.timeline = o.rec.Stop()
	saveTimeline(dir, CurrentSpecReport().LeafNodeText, o.timeline)
	if len(o.history.Operations) > 0 {
		saveJSON(dir, "histories", CurrentSpecReport().LeafNodeText, o.history)
	}
	o.saved = true
	return o.timeline, o.history
}

// finish releases what end does not (the etcd client, the traffic's keys); safe twice.
func (o *observation) finish(ctx context.Context) {
	if !o.saved && o.dir != "" {
		o.end(o.dir) // the spec failed before its end: its timeline matters most now
	}
	o.stop()
	if o.traffic != nil {
		o.traffic.Stop()
	}
	if o.etcd == nil {
		return
	}
	if o.prefix != "" {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := o.etcd.Delete(dctx, o.prefix, clientv3.WithPrefix()); err != nil {
			progress("could not delete the etcd traffic's keys under %s: %v", o.prefix, err)
		}
	}
	o.etcd.Close()
	o.etcd = nil
	for _, mc := range o.statusClients {
		mc.Close()
	}
	o.statusClients = nil
}

// keepAliveConfig is cfg with its own transport, so its connection is kept alive and
// not shared with other clients.
func keepAliveConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Timeout = sampleTimeout
	c.QPS, c.Burst = -1, 0 // the recorder sets the pace; no client-side throttling
	return c
}

// keepAliveGet GETs path on one kept-alive connection, as a long-running client (a
// controller, kubectl with a watch) sees the API.
func keepAliveGet(cfg *rest.Config, path string) func(ctx context.Context) (string, error) {
	return getter(cfg, path, &http.Transport{MaxIdleConnsPerHost: 1})
}

// failedChecks picks the failed checks ("[-]etcd failed: …") from a /readyz?verbose
// answer, so a timeline says why a server was not ready.
func failedChecks(body io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(body, 16<<10))
	var failed []string
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(line, "[-]"); ok {
			failed = append(failed, strings.Fields(name)[0])
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return ": " + strings.Join(failed, ", ")
}

// leaseHolder reads a kube-system Lease; the value is "<holder's node> <instance id>"
// ("" when held by nobody): the instance tells a standby's takeover, or a restarted
// instance's on the same node, from a renewal. A Lease past its duration counts as held
// by nobody.
func leaseHolder(c kubernetes.Interface, name string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		l, err := c.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		s := l.Spec
		if s.HolderIdentity == nil || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
			return "", nil
		}
		if time.Since(s.RenewTime.Time) > time.Duration(*s.LeaseDurationSeconds)*time.Second {
			return "", nil // expired: whoever is named no longer holds it
		}
		node, instance, _ := strings.Cut(*s.HolderIdentity, "_") // "<node>_<uuid>"
		return strings.TrimSpace(node + " " + instance), nil
	}
}

// leaseNode is the holder's node in a lease series value (timelines written before the
// instance was recorded hold the node alone).
func leaseNode(value string) string {
	node, _, _ := strings.Cut(value, " ")
	return node
}

// etcdMemberStatus asks one member for its status: who it thinks leads, raft term and
// applied index.
func etcdMemberStatus(c *cluster.MemberClient, names map[uint64]string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		st, err := c.Status(ctx)
		if err != nil {
			return "", err
		}
		leader := names[st.Leader]
		if st.Leader == 0 {
			leader = "none"
		}
		return fmt.Sprintf("leader=%s term=%d index=%d", leader, st.RaftTerm, st.RaftIndex), nil
	}
}

// etcdField reads one "key=value" field of an etcd series value.
func etcdField(value, key string) string {
	for _, f := range strings.Fields(value) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// readyPods counts the workload's ready Pods per node from a workload sample's value.
func readyPods(value string) (total int, perNode map[string]int) {
	perNode = map[string]int{}
	for _, f := range strings.Split(value, ",") {
		var node string
		var n int
		if k, v, ok := strings.Cut(f, "="); ok {
			node = k
			fmt.Sscan(v, &n)
		}
		if node != "" {
			perNode[node] = n
			total += n
		}
	}
	return total, perNode
}

// formatPerNode writes counts as "<node>=<n>,…" sorted by node.
func formatPerNode(counts map[string]int) string {
	nodes := make([]string, 0, len(counts))
	for n := range counts {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = fmt.Sprintf("%s=%d", n, counts[n])
	}
	return strings.Join(parts, ",")
}

func podReady(p corev1.Pod) bool {
	return p.DeletionTimestamp == nil && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
	})
}
