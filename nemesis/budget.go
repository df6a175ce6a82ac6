package nemesis

import (
	"fmt"
	"time"

	"github.com/hachaos/hachaos/topology"
)

// Allowance is what one step may cost the clients through the load balancer, from the
// Spec's and the running components' bounds, and why.
type Allowance struct {
	Seconds time.Duration // failing time, on new connections
	Why     string
}

// AllowanceOf is a step's allowance:
//   - a graceful API server stop, a leader kill: nothing (the shutdown delay outlasts the
//     LB's detection window; the Lease holders serve no client);
//   - an API server killed or frozen: the LB's detection window;
//   - a partitioned control plane, or a stacked member lost (its API server reads only
//     that member): the API server's stale readiness, then the detection window;
//   - an external member lost: the etcd election bound (the API servers' requests to
//     etcd wait for a new leader).
func AllowanceOf(s Step, b topology.Bounds, stacked bool) Allowance {
	switch s.Kind {
	case APIServerKill, APIServerFreeze:
		d := b.LBDetection()
		return Allowance{d.Value, "LB detection window " + d.FormulaText()}
	case Partition:
		d := b.APIServerEtcdUnready().Plus(b.LBDetection())
		return Allowance{d.Value, "stale readiness + LB detection window " + d.FormulaText()}
	case EtcdMemberStop, EtcdMemberCrash:
		if stacked {
			d := b.APIServerEtcdUnready().Plus(b.LBDetection())
			return Allowance{d.Value, "its API server's stale readiness + LB detection window " + d.FormulaText()}
		}
		d := b.EtcdElection()
		return Allowance{d.Value, "etcd election bound " + d.FormulaText()}
	}
	return Allowance{0, "none may fail"}
}

// Budget is the schedule's disruption budget for `hachaos monitor`: the sum of its
// steps' allowances in failing seconds, and as many failed requests as the LB probes
// send in that time (one per sample interval); kept-alive connections get one client
// timeout more per step that has an allowance (a request in flight on a connection to
// the failed server waits for it). Every other budget stays the Spec's.
func Budget(s Schedule, b topology.Bounds, stacked bool, spec topology.DisruptionSpec, every, clientTimeout time.Duration) (topology.DisruptionSpec, string) {
	var seconds, keptAlive time.Duration
	steps := 0
	for _, st := range s.Steps() {
		a := AllowanceOf(st, b, stacked)
		if a.Seconds > 0 {
			seconds += a.Seconds
			keptAlive += a.Seconds + clientTimeout
			steps++
		}
	}
	spec.LBNewConnections = topology.DisruptionBudget{FailedRequests: int(seconds / every), Seconds: topology.Duration{Duration: seconds}}
	spec.LBKeptAlive = topology.DisruptionBudget{FailedRequests: int(keptAlive / every), Seconds: topology.Duration{Duration: keptAlive}}
	why := fmt.Sprintf("Σ of %d steps' allowances (the others may cost nothing): LB new connections %s, kept-alive %s (+ client timeout %s each)", steps, seconds, keptAlive, clientTimeout)
	return spec, why
}
