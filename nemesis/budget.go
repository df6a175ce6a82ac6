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
		d := b.StackedMemberLoss() // the isolated API server's etcd is as good as lost
		return Allowance{d.Value, "stale readiness + LB detection window " + d.FormulaText()}
	case EtcdMemberStop, EtcdMemberCrash:
		if stacked {
			d := b.StackedMemberLoss()
			return Allowance{d.Value, "its API server's stale readiness + LB detection window " + d.FormulaText()}
		}
		d := b.EtcdElection()
		return Allowance{d.Value, "etcd election bound " + d.FormulaText()}
	}
	return Allowance{0, "none may fail"}
}

// Budget is the schedule's disruption budget for `hachaos monitor`: the Spec's, plus
// the sum of its steps' allowances in failing seconds through the LB
// (DisruptionSpec.PlusLBAllowance, once per step that has one). Every other budget
// stays the Spec's.
func Budget(s Schedule, b topology.Bounds, stacked bool, spec topology.DisruptionSpec, every, clientTimeout time.Duration) (topology.DisruptionSpec, string) {
	var seconds time.Duration
	steps := 0
	for _, st := range s.Steps() {
		a := AllowanceOf(st, b, stacked)
		if a.Seconds > 0 {
			spec = spec.PlusLBAllowance(a.Seconds, every, clientTimeout)
			seconds += a.Seconds
			steps++
		}
	}
	why := fmt.Sprintf("the Spec's budget + Σ of %d steps' allowances (the others may cost nothing): LB new connections %s, kept-alive %s (+ client timeout %s each)", steps, seconds, seconds+time.Duration(steps)*clientTimeout, clientTimeout)
	return spec, why
}
