package topology

import (
	"fmt"
	"time"
)

// DisruptionSpec is what a planned disruption — an upgrade, a rolling restart, anything
// `hachaos monitor` runs — may cost the clients of each backend: its budget of failed
// requests and of seconds with failing requests, over the whole monitored command and
// until the cluster is healthy again. The etcd guarantees (no acknowledged write lost,
// a linearizable history, the write gap within its derived bound) hold whatever the
// budgets say.
type DisruptionSpec struct {
	// LBNewConnections: requests through the load balancer, each on a new connection
	// (a client arriving). Default 0 / 0s: with graceful API server termination
	// (timeouts.apiServerShutdownDelay beyond the LB's detection window) the LB stops
	// sending to a server before it stops serving, so nothing may fail.
	LBNewConnections DisruptionBudget `json:"lbNewConnections"`
	// LBKeptAlive: requests through the load balancer on one kept-alive connection (a
	// controller, a watch). Default 0 / 0s: a server that shuts down gracefully closes
	// idle connections and the client redials (a request HAProxy itself cuts as it marks
	// the server DOWN is counted apart: CutSessionsAllowed).
	LBKeptAlive DisruptionBudget `json:"lbKeptAlive"`
	// APIServer: /readyz on each API server directly. Default recorded only: a restarted
	// server is down until it has started again, which is no client's concern behind an LB.
	APIServer DisruptionBudget `json:"apiServer"`
	// EtcdWrites: the harness's etcd writes (every member's endpoint). Default recorded
	// only: a write in flight on a member that stops fails and is retried elsewhere;
	// the write gap is held to its derived bound instead.
	EtcdWrites DisruptionBudget `json:"etcdWrites"`
	// CutSessionsAllowed is not configured but derived (WithLB): with
	// loadBalancer.shutdownSessionsOnDown, HAProxy cuts the open sessions of a server
	// the moment it marks it DOWN, so a request in flight to it then fails by the LB's
	// own choice; such requests are counted apart and not held against the budget.
	CutSessionsAllowed bool `json:"-"`
}

// WithLB is d with what the load balancer's settings imply (CutSessionsAllowed).
func (d DisruptionSpec) WithLB(lb LoadBalancerSpec) DisruptionSpec {
	d.CutSessionsAllowed = lb.Type == LBHAProxy && lb.ShutdownSessionsOnDown
	return d
}

// DisruptionBudget is one backend's budget. RecordOnly measures without judging; else
// more than FailedRequests failed requests, or failures spanning more than Seconds in
// all, break the budget.
type DisruptionBudget struct {
	RecordOnly     bool     `json:"recordOnly"`
	FailedRequests int      `json:"failedRequests"`
	Seconds        Duration `json:"seconds"`
}

func (b DisruptionBudget) String() string {
	if b.RecordOnly {
		return "recorded only"
	}
	return fmt.Sprintf("≤ %d failed requests, ≤ %s failing", b.FailedRequests, b.Seconds)
}

func defaultDisruption() DisruptionSpec {
	return DisruptionSpec{APIServer: DisruptionBudget{RecordOnly: true}, EtcdWrites: DisruptionBudget{RecordOnly: true}}
}

func (d DisruptionSpec) validate(v *violations) {
	for path, b := range map[string]DisruptionBudget{
		"disruption.lbNewConnections": d.LBNewConnections, "disruption.lbKeptAlive": d.LBKeptAlive,
		"disruption.apiServer": d.APIServer, "disruption.etcdWrites": d.EtcdWrites,
	} {
		checkAtLeast(v, path+".failedRequests", b.FailedRequests, 0)
		checkNotNegative(v, path+".seconds", b.Seconds)
		if b.RecordOnly && (b.FailedRequests != 0 || b.Seconds.Duration != 0) {
			v.invalid(path+".recordOnly", true, "judges nothing: leave failedRequests and seconds at 0 with it, got %d and %s", b.FailedRequests, b.Seconds)
		}
	}
}

// Spent is d with every judged budget used up (no failed request, no failing time),
// recorded-only budgets left as they are: the base of a window judged apart from the
// rest of a run that was held to the whole of d already, so that d is granted once per
// run, not once per window, and an allowance added to it stands alone.
func (d DisruptionSpec) Spent() DisruptionSpec {
	for _, b := range []*DisruptionBudget{&d.LBNewConnections, &d.LBKeptAlive, &d.APIServer, &d.EtcdWrites} {
		b.FailedRequests, b.Seconds.Duration = 0, 0
	}
	return d
}

// PlusLBAllowance is d with an allowance of failing time through the load balancer
// added: on new connections seconds and as many failed requests as a client sending
// every `every` sends in that time; on a kept-alive connection one client timeout more
// (a request in flight on a connection to the failed server waits for it).
func (d DisruptionSpec) PlusLBAllowance(seconds, every, clientTimeout time.Duration) DisruptionSpec {
	d.LBNewConnections.FailedRequests += int(seconds / every)
	d.LBNewConnections.Seconds.Duration += seconds
	d.LBKeptAlive.FailedRequests += int((seconds + clientTimeout) / every)
	d.LBKeptAlive.Seconds.Duration += seconds + clientTimeout
	return d
}
