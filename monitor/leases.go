package monitor

import (
	"fmt"
	"time"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
)

// leasesJudged: each leader-elected component's Lease was held — by a holder that renews
// it, read through the LB — all along, but for at most its LeaseUnheld bound at a time (a
// holder stopped gracefully releases it and a standby acquires it; one killed lets it
// expire first). A read that failed says nothing and is skipped. The Lease object names
// one holder by construction: two instances leading at once shows only in their own
// logs (the partition spec reads them), not here.
func leasesJudged(r Recording, j *Judgement, until time.Duration) []string {
	var problems []string
	for _, name := range LeaderElected {
		bound, ok := r.LeaseBounds[name]
		samples := r.Timeline.Series[PrefixLease+name]
		if !ok || len(samples) == 0 {
			continue
		}
		longest, at := longestUnheld(samples, r.Started, until)
		j.Measured = append(j.Measured, reports.Measurement{Name: "Lease " + name + ": longest time held by nobody", Value: longest.Seconds(), Unit: "s",
			Bound: bound.Value.Seconds(), Formula: bound.FormulaText(), Inputs: bound.Inputs})
		if longest > bound.Value {
			problems = append(problems, fmt.Sprintf("the %s Lease was held by nobody for %.2f s from %.2f s, bound %s", name, longest.Seconds(), at.Seconds(), bound))
		}
	}
	return problems
}

// longestUnheld is the longest stretch in [from, until) from a read that found the
// Lease held by nobody (no holder, or its renewal expired) to the answer of the next
// read that found it held (until, if none did), and when it began.
func longestUnheld(samples []probe.Sample, from, until time.Duration) (longest, at time.Duration) {
	var start time.Duration
	open := false
	for _, s := range samples {
		if s.At < from || s.At >= until || !s.OK {
			continue
		}
		switch {
		case s.Value == "" && !open:
			start, open = s.At, true
		case s.Value != "" && open:
			if d := s.Answered() - start; d > longest {
				longest, at = d, start
			}
			open = false
		}
	}
	if open && until-start > longest {
		longest, at = until-start, start
	}
	return longest, at
}

// LeaseBounds are how long each leader-elected component's Lease may be read as held by
// nobody (topology.Bounds.LeaseUnheld, at this reader's cadence), by Lease name. Not the
// takeover bound: that counts from the holder's death and includes the lease duration,
// which the reader sees the Lease still held for.
func LeaseBounds(spec topology.Spec, b topology.Bounds) map[string]topology.Bound {
	t := spec.ResolvedTimeouts()
	return map[string]topology.Bound{
		"kube-scheduler":          b.LeaseUnheld("kube-scheduler", t.Scheduler, QuorumReadEvery, SampleTimeout),
		"kube-controller-manager": b.LeaseUnheld("kube-controller-manager", t.ControllerManager, QuorumReadEvery, SampleTimeout),
	}
}
