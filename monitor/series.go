package monitor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/apicheck"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Series names of the standard observation. A series' sample Value says what was seen.
const (
	SeriesLB          = "lb"           // GET through the LB on a new connection
	SeriesLBKeepAlive = "lb-keepalive" // the same on one kept-alive connection
	PrefixAPIServer   = "apiserver/"   // + node: /readyz on that API server directly (kept-alive connection)
	PrefixBackend     = "backend/"     // + node: its state in HAProxy
	PrefixLease       = "lease/"       // + component: Value is "<holder's node> <instance>"
	PrefixEtcd        = "etcd/"        // + member: Value is "leader=<member> term=<t> index=<i>"
	SeriesWorkload    = "workload"     // Value is "<node>=<ready pods>,…"
	// + node: HAProxy's counters of connections it sent to that server and could not
	// place there; Value is "econ=<n> wretr=<n> wredis=<n>" (BackendRefusals)
	PrefixLBRefused = "lb-refused/"
)

// LBCountersEvery is the cadence of the LB's counters: they only grow, so once a second
// dates a change well enough and costs the stats socket little.
const LBCountersEvery = time.Second

// The recorder's cadence; a request that gets no answer within SampleTimeout is a
// failure.
const (
	SampleEvery   = 100 * time.Millisecond
	SampleTimeout = 2 * time.Second
)

// QuorumReadEvery is the cadence of the series whose every sample is a quorum read in
// etcd (/readyz runs the API server's etcd check; a Lease GET reads through): five
// such series at 100 ms added 50 reads a second and, on 2 cores, starved the majority
// of a partitioned control plane (its API servers failed their own etcd checks). The
// guarantees' own series — requests through the LB — stay at SampleEvery.
const QuorumReadEvery = 250 * time.Millisecond

// KVOpTimeout bounds one etcd operation of the traffic; a write still unanswered by
// then is "may have happened" and the client moves on.
const KVOpTimeout = 2 * time.Second

// KVEvery is the pace of each of the two traffic clients: 20 operations a second in
// all (half of them writes), fine enough to measure a write gap to ~50 ms and light
// enough for a 2-core machine to carry through a control-plane failover.
const KVEvery = 100 * time.Millisecond

// APIEvery is the pace of each of the two API traffic clients (package apicheck): ten
// calls a second in all, of which about two in five are writes — light next to the
// etcd traffic, since each call also costs an API server's admission and encoding.
const APIEvery = 200 * time.Millisecond

// APIWatchCatchUp bounds how long the end of a recording waits for every watcher to
// deliver the last acknowledged write. A watch on a healthy server delivers within its
// watch cache's propagation; one left on a connection to a server that went away is
// noticed by client-go's HTTP/2 health check — a ping after ReadIdleTimeout (30 s) that
// must be answered within PingTimeout (15 s), k8s.io/apimachinery/pkg/util/net's
// defaults — and resumed. A watcher not there by then has gone quiet.
const APIWatchCatchUp = 30*time.Second + 15*time.Second

// APINamespace holds the API traffic's ConfigMaps (each run's labelled and deleted).
const APINamespace = "hachaos-apicheck"

// LeaderElected are the Lease names of the leader-elected components, in kube-system.
var LeaderElected = []string{"kube-scheduler", "kube-controller-manager"}

// Check is one sample's request: the value seen, or why it failed.
type Check = func(ctx context.Context) (string, error)

// FreshConnectionGet GETs path with cfg's credentials on a new TLS connection each time,
// as a client arriving at the load balancer would.
func FreshConnectionGet(cfg *rest.Config, path string) (Check, error) {
	return getter(cfg, path, &http.Transport{DisableKeepAlives: true})
}

// KeepAliveGet GETs path on one kept-alive connection, as a long-running client (a
// controller, kubectl with a watch) sees the API.
func KeepAliveGet(cfg *rest.Config, path string) (Check, error) {
	return getter(cfg, path, &http.Transport{MaxIdleConnsPerHost: 1})
}

// getter GETs path with cfg's credentials through transport; anything but 200 is an
// error naming the status (and, for a verbose health endpoint, the failed checks).
func getter(cfg *rest.Config, path string, transport *http.Transport) (Check, error) {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS config for %s: %w", cfg.Host, err)
	}
	transport.TLSClientConfig = tlsConfig
	client := &http.Client{Transport: transport}
	return func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", &probe.StatusError{Code: resp.StatusCode, Detail: failedChecks(resp.Body)}
		}
		return "ok", nil
	}, nil
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
	return strings.Join(failed, ", ")
}

// BackendState reads target's state from HAProxy; anything but UP is an error.
func BackendState(statsAddress, target string) Check {
	return func(ctx context.Context) (string, error) {
		s, err := backendOf(ctx, statsAddress, target)
		if err != nil {
			return "", err
		}
		if !s.Up() {
			return s.Status, fmt.Errorf("%s is %s", target, s.Status)
		}
		return s.Status, nil
	}
}

// BackendRefusals reads HAProxy's connect errors, retries and redispatches of target.
func BackendRefusals(statsAddress, target string) Check {
	return func(ctx context.Context) (string, error) {
		s, err := backendOf(ctx, statsAddress, target)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("econ=%d wretr=%d wredis=%d", s.ConnectErrors, s.Retries, s.Redispatches), nil
	}
}

// backendOf is target's line of HAProxy's stats.
func backendOf(ctx context.Context, statsAddress, target string) (topology.BackendState, error) {
	states, err := topology.ReadHAProxyBackends(ctx, statsAddress, cluster.HAProxyBackend)
	if err != nil {
		return topology.BackendState{}, err
	}
	for _, s := range states {
		if s.Server == target {
			return s, nil
		}
	}
	return topology.BackendState{}, fmt.Errorf("%s is not a server of the load balancer", target)
}

// Refusals is the sum of the counters in a PrefixLBRefused value (0 for another value).
func Refusals(value string) int64 {
	var total int64
	for _, f := range strings.Fields(value) {
		if _, v, ok := strings.Cut(f, "="); ok {
			var n int64
			fmt.Sscan(v, &n)
			total += n
		}
	}
	return total
}

// KeepAliveConfig is cfg with its own transport, so its connection is kept alive and
// not shared with other clients.
func KeepAliveConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Timeout = SampleTimeout
	c.QPS, c.Burst = -1, 0 // the recorder sets the pace; no client-side throttling
	return c
}

// FreshConnectionClient is a clientset with cfg's credentials that opens a new
// connection for every request, as a client arriving at the load balancer would. The
// Lease reader uses it so that no read waits on a kept-alive connection to a server the
// LB no longer routes new clients to (kind's LB keeps such sessions open): who holds a
// Lease is then seen through whichever server the LB picks, and what kept-alive clients
// see is measured by the kept-alive series, not by the Lease reads.
func FreshConnectionClient(cfg *rest.Config) (kubernetes.Interface, error) {
	c := KeepAliveConfig(cfg)
	tlsConfig, err := rest.TLSConfigFor(c)
	if err != nil {
		return nil, fmt.Errorf("TLS config for %s: %w", c.Host, err)
	}
	rt, err := rest.HTTPWrappersForConfig(c, &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true})
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", c.Host, err)
	}
	return kubernetes.NewForConfigAndClient(c, &http.Client{Transport: rt, Timeout: c.Timeout})
}

// LeaseHolder reads a kube-system Lease; the value is "<holder's node> <instance id>"
// ("" when held by nobody): the instance tells a standby's takeover, or a restarted
// instance's on the same node, from a renewal. A Lease past its duration counts as held
// by nobody.
func LeaseHolder(c kubernetes.Interface, name string) Check {
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

// EtcdMemberStatus asks one member for its status: who it thinks leads, raft term and
// applied index.
func EtcdMemberStatus(c *cluster.MemberClient, names map[uint64]string) Check {
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

// RemoveAPILeftovers deletes the API traffic's ConfigMaps a killed run left in
// APINamespace (apicheck.RemoveLeftovers) and says what it did through progress.
func RemoveAPILeftovers(ctx context.Context, p cluster.Provider, progress func(format string, args ...any)) error {
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return err
	}
	n, err := apicheck.RemoveLeftovers(ctx, cfg, APINamespace, KVOpTimeout)
	if n > 0 {
		progress("removed %d ConfigMaps an earlier run's API traffic left in %s", n, APINamespace)
	}
	return err
}
