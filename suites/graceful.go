package suites

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// GracefulStopSpec asserts graceful API server termination, the promise every rolling
// restart and upgrade leans on: one API server stopped as a rolling restart stops it
// (its static Pod's manifest moved away, so the kubelet sends SIGTERM; the server fails
// /readyz but serves on for --shutdown-delay-duration, then stops) costs clients through
// the load balancer not one request on new connections, from the stop until it is back
// in rotation (a request the LB itself cuts as it marks the server DOWN, with
// loadBalancer.shutdownSessionsOnDown, is counted apart). That holds when the delay
// exceeds the LB's detection window (the LB checks /readyz and has marked the server
// DOWN before it stops); a Spec promising less is refused at load, and the delay is read
// from the running server.
func GracefulStopSpec(inputGetter func() LBReroutingSpecInput) {
	It("loses no request through the load balancer when one API server stops gracefully", func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		skipUnlessLBStates(in)
		if d := in.Spec.ResolvedTimeouts().APIServerShutdownDelay; d.Duration == 0 {
			Skip("the Spec promises no graceful stop: timeouts.apiServerShutdownDelay resolves to 0s (profile " + in.Spec.Profile + ")")
		}
		run := startFaultRun(ctx, in.env(), observeInput{})
		targets := nodeNames(ctx, in.Provider, topology.RoleControlPlane)
		target := targets[len(targets)-1]
		delay := runningShutdownDelay(run, target)

		run.inject(fault.NewAPIServerStop(in.Provider, target))
		run.awaitEffect(fault.StaticPodStopBound, "kubelet file check 20 s + termination grace 30 s (the shutdown delay runs inside it)")
		// The server is gone; what matters now is its return. A fault duration, not a
		// wait for a condition: one sample timeout, so the LB has seen it gone.
		run.hold(sampleTimeout)
		run.recover()
		run.awaitBackInRotation(target, in.Spec.Waits.ComponentRestart.Duration)
		run.awaitReady()
		end := run.obs.rec.Since()
		tl, _ := run.end()
		run.expectEffectHeld(tl, fault.StaticPodStopBound)
		judging()
		// Judged over the stop and the hold, where termination happens; the return (a new
		// server starting, which the LB's rise check keeps out until it is ready) is
		// recorded beside it: on 2 cores a starting API server can slow the others' answers
		// past the sample timeout, which says nothing about how the old one stopped.
		cut := in.Spec.Disruption.WithLB(in.Spec.LoadBalancer).CutSessionsAllowed
		expectJudgement(judgeGracefulStop(tl, target, run.injectAt, run.recoveringAt, delay, run.bounds.LBDetection(), cut, "graceful stop"))
		noteReturn(tl, run.recoveringAt, end)
		run.expectBackInRotation(tl, []string{target}, "graceful stop")
		run.expectCommonGuaranteesAndRecovered()
	})
}

// runningShutdownDelay is --shutdown-delay-duration of the API server running on node:
// the promise is the running server's, not what the Spec asked for.
func runningShutdownDelay(run *faultRun, node string) topology.Setting {
	line, err := cluster.CommandLine(run.ctx, run.env.Provider, node, "kube-apiserver")
	if err != nil {
		failWith(verdict.EnvironmentNotReady, "read the kube-apiserver command line on %s: %v", node, err)
	}
	delay, err := topology.ParseShutdownDelay(node, line)
	if err != nil {
		failWith(verdict.EnvironmentNotReady, "%v", err)
	}
	progress("running shutdown delay of %s: %s (%s)", node, delay.Value, delay.Source)
	return delay
}

// noteReturn records what clients through the LB saw while the stopped server came back.
func noteReturn(tl probe.Timeline, from, to time.Duration) {
	all, _ := monitor.JudgeDisruption(tl, probe.KVHistory{}, topology.DisruptionSpec{}, from, to)
	for _, d := range all[:2] {
		AddReportEntry(reports.MeasurementEntryPrefix+"graceful stop: while the server came back: "+d.Backend, fmt.Sprintf("%d of %d requests failed (recorded, not judged)", d.Failed, d.Requests))
	}
}
