package topology

import (
	"fmt"
	"strings"
	"time"
)

// Bound is a limit a measured value is held to, as a value: the number, the formula it
// comes from and every input with where it was read. Failure messages, reports and
// comparisons render this value; no bound is typed into a message.
type Bound struct {
	Value   time.Duration
	Formula string // e.g. "2 × 2 × election timeout"
	Inputs  []BoundInput
}

// BoundInput is one input of a bound's formula.
type BoundInput struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// String is "4s = 2 × 2 × election timeout (election timeout 1s: etcd default (flag not set))".
func (b Bound) String() string {
	var in []string
	for _, i := range b.Inputs {
		in = append(in, fmt.Sprintf("%s %s: %s", i.Name, i.Value, i.Source))
	}
	s := fmt.Sprintf("%s = %s", b.Value, b.Formula)
	if len(in) > 0 {
		s += " (" + strings.Join(in, "; ") + ")"
	}
	return s
}

// FormulaText is the formula with the inputs' values: "2 × 2 × election timeout 1s".
func (b Bound) FormulaText() string {
	var in []string
	for _, i := range b.Inputs {
		in = append(in, i.Name+" "+i.Value)
	}
	if len(in) == 0 {
		return b.Formula
	}
	return b.Formula + " with " + strings.Join(in, ", ")
}

// Bounds derives every timing bound of the guarantees from one place: the Spec (the
// load balancer's settings, the profile's timeouts, the waits) and the timings the
// running components were started with.
type Bounds struct {
	spec    Spec
	running ComponentTimings
}

// NewBounds derives the bounds of spec on a cluster running with timings.
func NewBounds(spec Spec, timings ComponentTimings) Bounds {
	return Bounds{spec: spec, running: timings}
}

func input(name string, s Setting) BoundInput {
	return BoundInput{Name: name, Value: s.Value.String(), Source: s.Source}
}

func specInput(name string, d time.Duration, field string) BoundInput {
	return BoundInput{Name: name, Value: d.String(), Source: "Spec " + field}
}

// EtcdElection is how long after a leader dies a new leader is elected, at worst with
// one split vote: a follower's election timer fires at a random point in
// [electionTimeout, 2×electionTimeout) after the last heartbeat, and a split vote
// restarts the timers once more. bound = 2 × 2 × electionTimeout.
func (b Bounds) EtcdElection() Bound {
	et := b.running.EtcdElectionTimeout
	return Bound{Value: 4 * et.Value, Formula: "2 × 2 × election timeout", Inputs: []BoundInput{input("election timeout", et)}}
}

// EtcdWriteGap is the longest a client with every member's endpoint may go without an
// acknowledged write while a minority of members fails: a new leader within the election
// bound, and a write stuck on the dead member abandoned after opTimeout and retried
// elsewhere. bound = election bound + opTimeout.
func (b Bounds) EtcdWriteGap(opTimeout time.Duration) Bound {
	e := b.EtcdElection()
	return Bound{Value: e.Value + opTimeout, Formula: "2 × 2 × election timeout + client timeout",
		Inputs: append(e.Inputs, BoundInput{Name: "client timeout", Value: opTimeout.String(), Source: "hachaos' etcd traffic (kvOpTimeout)"})}
}

// EtcdRequestTimeout is etcd's own request timeout (ServerConfig.ReqTimeout): 5 s for
// queueing, computation and disk, plus two election timeouts for a possible election.
func (b Bounds) EtcdRequestTimeout() Bound {
	et := b.running.EtcdElectionTimeout
	return Bound{Value: 5*time.Second + 2*et.Value, Formula: "5 s + 2 × election timeout", Inputs: []BoundInput{input("election timeout", et)}}
}

// EtcdGracefulStop is how long an etcd member takes at most to exit after SIGTERM
// (server/embed Etcd.Close): the gRPC servers of each client URL are given the request
// timeout to finish their calls, one URL after the other; a leader then transfers its
// leadership within the request timeout; each peer URL's idle connections get 1 s.
// bound = (client URLs + 1) × request timeout + peer URLs × 1 s.
func (b Bounds) EtcdGracefulStop() Bound {
	req := b.EtcdRequestTimeout()
	clients, peers := b.running.EtcdClientListeners, b.running.EtcdPeerListeners
	return Bound{
		Value:   time.Duration(clients.N+1)*req.Value + time.Duration(peers.N)*time.Second,
		Formula: "(client URLs + 1) × (5 s + 2 × election timeout) + peer URLs × 1 s",
		Inputs: append(req.Inputs,
			BoundInput{Name: "client URLs", Value: fmt.Sprint(clients.N), Source: clients.Source},
			BoundInput{Name: "peer URLs", Value: fmt.Sprint(peers.N), Source: peers.Source}),
	}
}

// APIServerEtcdUnready is how long an API server cut off from etcd may still answer
// /readyz with "ok": its etcd checks probe etcd at most every timeout/2 and answer with
// the last probe's result in between (k8s.io/apiserver, storagebackend/factory
// newETCD3Check), so the first probe to see the loss starts up to timeout/2 after it and
// fails after timeout. bound = timeout/2 + timeout.
func (b Bounds) APIServerEtcdUnready() Bound {
	t := b.running.APIServerEtcdCheckTimeout
	return Bound{Value: t.Value/2 + t.Value, Formula: "etcd check timeout/2 + etcd check timeout", Inputs: []BoundInput{input("etcd check timeout", t)}}
}

// StackedMemberLoss is how long clients through the load balancer may fail while a
// stacked etcd member is down: kubeadm points each API server at its local member only,
// so that server fails requests until its /readyz, answered from its last etcd probe,
// fails (APIServerEtcdUnready) and the LB takes it out (LBDetection).
func (b Bounds) StackedMemberLoss() Bound {
	return b.APIServerEtcdUnready().Plus(b.LBDetection())
}

// LBDetection is the load balancer's detection window (LoadBalancerSpec.DetectionWindow).
func (b Bounds) LBDetection() Bound {
	l := b.spec.LoadBalancer
	return Bound{Value: l.DetectionWindow(), Formula: "inter + fall × (min(connect, inter) + check) + (fall − 1) × fastinter",
		Inputs: []BoundInput{
			specInput("inter", l.CheckInterval.Duration, "loadBalancer.checkInterval"),
			{Name: "fall", Value: fmt.Sprint(l.Fall), Source: "Spec loadBalancer.fall"},
			specInput("connect", l.ConnectTimeout.Duration, "loadBalancer.connectTimeout"),
			specInput("check", l.CheckTimeout.Duration, "loadBalancer.checkTimeout"),
			specInput("fastinter", l.FastInterval.Duration, "loadBalancer.fastInterval"),
		}}
}

// LBRise is how long after a recovered API server answers its health check again the
// load balancer takes it back in rotation (LoadBalancerSpec.RiseWindow).
func (b Bounds) LBRise() Bound {
	l := b.spec.LoadBalancer
	return Bound{Value: l.RiseWindow(), Formula: "min(connect, inter) + check + downinter + rise × (min(connect, inter) + check) + (rise − 1) × fastinter",
		Inputs: []BoundInput{
			specInput("inter", l.CheckInterval.Duration, "loadBalancer.checkInterval"),
			specInput("connect", l.ConnectTimeout.Duration, "loadBalancer.connectTimeout"),
			specInput("check", l.CheckTimeout.Duration, "loadBalancer.checkTimeout"),
			specInput("downinter", l.DownInterval.Duration, "loadBalancer.downInterval"),
			{Name: "rise", Value: fmt.Sprint(l.Rise), Source: "Spec loadBalancer.rise"},
			specInput("fastinter", l.FastInterval.Duration, "loadBalancer.fastInterval"),
		}}
}

// LeaseTakeover is how long after the holder of component's Lease dies (without
// releasing it) a standby holds it, from the Spec's leader-election timings (which the
// topology suite checks the components run with): LeaseTakeoverBound.
func (b Bounds) LeaseTakeover(component string, le LeaderElection) Bound {
	field := "timeouts." + component
	return Bound{Value: le.LeaseTakeoverBound(), Formula: "lease duration + 2 × retry period × (1 + jitter 1.2)",
		Inputs: []BoundInput{
			specInput("lease duration", le.LeaseDuration.Duration, field+".leaseDuration"),
			specInput("retry period", le.RetryPeriod.Duration, field+".retryPeriod"),
		}}
}

// LeaseUnheld is how long component's Lease may be read as held by nobody — from the
// first read that finds it expired (renewal + lease duration) or released, to the
// answer of the first that finds a holder — by a reader asking every readEvery with a
// client timeout of readTimeout: a standby saw the last renewal up to one jittered
// retry period after it was made, so it sees the expiry as late, and it tries one
// jittered retry period after that (one more attempt lost to an update conflict is
// the LeaseTakeover bound's second term); the reader sees the new holder a read later.
// bound = 2 × retry period × (1 + jitter 1.2) + read interval + read timeout.
func (b Bounds) LeaseUnheld(component string, le LeaderElection, readEvery, readTimeout time.Duration) Bound {
	retries := time.Duration(2 * (1 + jitterFactor) * float64(le.RetryPeriod.Duration))
	return Bound{Value: retries + readEvery + readTimeout, Formula: "2 × retry period × (1 + jitter 1.2) + read interval + read timeout",
		Inputs: []BoundInput{
			specInput("retry period", le.RetryPeriod.Duration, "timeouts."+component+".retryPeriod"),
			{Name: "read interval", Value: readEvery.String(), Source: "hachaos' Lease reader"},
			{Name: "read timeout", Value: readTimeout.String(), Source: "hachaos' Lease reader"},
		}}
}

// WorkerLossReschedule is how long after a worker is lost its Pods are Ready elsewhere:
// the node controller marks it unreachable after the node-monitor grace period (noticed
// within one monitor period), the unreachable taint's toleration expires and its Pods are
// evicted, and the replacements start. bound = grace + monitor period + unreachable
// toleration + Pod startup.
func (b Bounds) WorkerLossReschedule() Bound {
	t := b.spec.ResolvedTimeouts()
	toleration := time.Duration(t.UnreachableTolerationSeconds) * time.Second
	return Bound{Value: t.NodeMonitorGracePeriod.Duration + t.NodeMonitorPeriod.Duration + toleration + b.spec.Waits.PodStartup.Duration,
		Formula: "grace + monitor period + unreachable toleration + Pod startup",
		Inputs: []BoundInput{
			specInput("grace", t.NodeMonitorGracePeriod.Duration, "timeouts.nodeMonitorGracePeriod"),
			specInput("monitor period", t.NodeMonitorPeriod.Duration, "timeouts.nodeMonitorPeriod"),
			specInput("unreachable toleration", toleration, "timeouts.unreachableTolerationSeconds"),
			specInput("Pod startup", b.spec.Waits.PodStartup.Duration, "waits.podStartup"),
		}}
}

// WorkerLossRouting is how long after a worker is lost requests to a Service stop being
// sent to its Pods: the node controller marks the node unreachable — and, in the same
// pass, its Pods not Ready — at most grace + monitor period after its last heartbeat,
// which came before the loss; the EndpointSlice controller writes the Pods out after its
// batch period, and kube-proxy rewrites its rules at most min sync period after that.
// Those are writes to the API and their watch deliveries (the node's status, each Pod's,
// the EndpointSlice), which take time on a loaded control plane (1.6 s on 2 cores under
// a compile): the chain is held to one API request timeout, the time within which
// hachaos counts any API request served (apiTimeout).
// bound = grace + monitor period + EndpointSlice batch period + kube-proxy min sync period
// + API request timeout.
func (b Bounds) WorkerLossRouting(r RoutingTimings, apiTimeout time.Duration) Bound {
	t := b.spec.ResolvedTimeouts()
	return Bound{Value: t.NodeMonitorGracePeriod.Duration + t.NodeMonitorPeriod.Duration + r.EndpointSliceBatchPeriod.Value + r.KubeProxyMinSyncPeriod.Value + apiTimeout,
		Formula: "grace + monitor period + EndpointSlice batch period + kube-proxy min sync period + API request timeout",
		Inputs: []BoundInput{
			specInput("grace", t.NodeMonitorGracePeriod.Duration, "timeouts.nodeMonitorGracePeriod"),
			specInput("monitor period", t.NodeMonitorPeriod.Duration, "timeouts.nodeMonitorPeriod"),
			input("EndpointSlice batch period", r.EndpointSliceBatchPeriod),
			input("kube-proxy min sync period", r.KubeProxyMinSyncPeriod),
			{Name: "API request timeout", Value: apiTimeout.String(), Source: "hachaos' API request timeout (monitor.SampleTimeout): the status and EndpointSlice writes and their watch deliveries"},
		}}
}

// DrainReschedule is how long draining a worker with pods of the workload on it takes
// until all are Ready elsewhere, with a PDB allowing one disruption: each eviction waits
// for the previous Pod's replacement to be Ready (Pod startup), and a refused eviction
// is retried after retry. bound = pods × (Pod startup + eviction retry).
func (b Bounds) DrainReschedule(pods int, retry time.Duration) Bound {
	startup := b.spec.Waits.PodStartup.Duration
	return Bound{Value: time.Duration(pods) * (startup + retry), Formula: "Pods on the worker × (Pod startup + eviction retry)",
		Inputs: []BoundInput{
			{Name: "Pods on the worker", Value: fmt.Sprint(pods), Source: "the workload as deployed"},
			specInput("Pod startup", startup, "waits.podStartup"),
			{Name: "eviction retry", Value: retry.String(), Source: "hachaos' drain (fault.EvictRetryDelay)"},
		}}
}

// Plus is b + c: a bound made of two.
func (b Bound) Plus(c Bound) Bound {
	return Bound{Value: b.Value + c.Value, Formula: "(" + b.Formula + ") + (" + c.Formula + ")", Inputs: append(append([]BoundInput{}, b.Inputs...), c.Inputs...)}
}

// LeaseTakeoverBound is how long after a leader dies (without releasing its Lease) a
// standby holds it: the standby takes over once LeaseDuration has passed since it last
// saw the Lease renewed, and it looks every RetryPeriod with client-go's jitter (up to
// 1.2 × RetryPeriod more); one more attempt may be lost to an update conflict.
// bound = LeaseDuration + 2 × RetryPeriod × (1 + JitterFactor).
func (l LeaderElection) LeaseTakeoverBound() time.Duration {
	return l.LeaseDuration.Duration + time.Duration(2*(1+jitterFactor)*float64(l.RetryPeriod.Duration))
}
