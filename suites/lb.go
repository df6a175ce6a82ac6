package suites

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// LBReroutingSpecInput is what LBReroutingSpec needs.
type LBReroutingSpecInput struct {
	Spec         topology.Spec
	Provider     cluster.Provider
	Injector     *fault.Injector
	ArtifactsDir string
	// DataPlane is the data-plane workload probed during the fault (nil: none).
	DataPlane *DataPlane
}

func (in LBReroutingSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "LBReroutingSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "LBReroutingSpecInput.Injector is required")
	Expect(in.ArtifactsDir).NotTo(BeEmpty(), "LBReroutingSpecInput.ArtifactsDir is required")
}

// apiServerFaults are the ways one API server is taken away in LBReroutingSpec.
var apiServerFaults = []struct {
	name  string
	build func(t fault.Topology, node string) fault.Fault
}{
	{"stopped", func(t fault.Topology, node string) fault.Fault { return fault.NewAPIServerStop(t, node) }},
	{"killed", func(t fault.Topology, node string) fault.Fault {
		f, err := fault.NewProcessKill(t, node, fault.ProcessAPIServer)
		Expect(err).NotTo(HaveOccurred())
		return f
	}},
	{"frozen", func(t fault.Topology, node string) fault.Fault { return fault.NewAPIServerFreeze(t, node) }},
}

// LBReroutingSpec asserts the load balancer's guarantee: with one API server stopped,
// killed or frozen (or all but one stopped), clients going through the LB on new
// connections fail for no longer than the LB's detection window, and never after it;
// the LB marks the server DOWN within that window and takes it back within its rise
// window once it is ready again (else the cluster did not recover). The
// window is derived from the HAProxy settings in the Spec
// (LoadBalancerSpec.DetectionWindow); it starts when the server itself stops answering,
// as seen by a probe that bypasses the LB.
func LBReroutingSpec(inputGetter func() LBReroutingSpecInput) {
	for _, f := range apiServerFaults {
		It("keeps clients through the load balancer working when one API server is "+f.name, func(ctx SpecContext) {
			in := inputGetter()
			in.validate()
			skipUnlessLBStates(in)
			run := startFaultRun(ctx, in.env(), observeInput{})
			targets := nodeNames(ctx, in.Provider, topology.RoleControlPlane)
			target := targets[len(targets)-1]
			runAPIServerFault(run, in, []string{target}, []fault.Fault{f.build(in.Provider, target)}, "apiserver-"+f.name)
		})
	}

	It("keeps clients through the load balancer working with all API servers but one stopped", func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		skipUnlessLBStates(in)
		run := startFaultRun(ctx, in.env(), observeInput{})
		targets := nodeNames(ctx, in.Provider, topology.RoleControlPlane)[1:]
		var faults []fault.Fault
		for _, t := range targets {
			faults = append(faults, fault.NewAPIServerStop(in.Provider, t))
		}
		runAPIServerFault(run, in, targets, faults, "all-but-one-stopped")
	})
}

func (in LBReroutingSpecInput) env() faultEnv {
	return faultEnv{Spec: in.Spec, Provider: in.Provider, Injector: in.Injector, ArtifactsDir: in.ArtifactsDir, DataPlane: in.DataPlane}
}

// skipUnlessLBStates skips an LB spec where the LB's view of its servers cannot be
// read: "marked DOWN" and "back in rotation" are judged on it.
func skipUnlessLBStates(in LBReroutingSpecInput) {
	if in.Spec.LoadBalancer.Type != topology.LBHAProxy {
		Skip("LB rerouting is measured on hachaos' HAProxy (loadBalancer.type: haproxy)")
	}
	c := in.Provider.Capabilities()
	if why, lacks := c.Lacking[topology.CapabilityLBStates]; lacks {
		Skip(fmt.Sprintf("not applicable: the %s provider lacks %s (%s)", c.Provider, topology.CapabilityLBStates, why))
	}
}

// effectBoundOf is how soon after Inject the fault must be seen in effect
// (fault.EffectBound; a signal or a rule within two checks' answer times).
func effectBoundOf(f fault.Fault) (time.Duration, string) {
	return fault.EffectBound(f, signalEffectBound)
}

// runAPIServerFault runs the pipeline for faults that take API servers away, then judges.
func runAPIServerFault(run *faultRun, in LBReroutingSpecInput, targets []string, faults []fault.Fault, what string) {
	lbCfg, err := in.Provider.RESTConfig(run.ctx)
	Expect(err).NotTo(HaveOccurred())
	By("checking that clients through the load balancer work before the fault")
	Consistently(freshConnectionGet(lbCfg, "/api/v1/namespaces/default")).WithContext(run.ctx).
		WithTimeout(time.Second).WithPolling(sampleEvery).Should(Not(BeEmpty()))

	run.inject(faults...)
	bound, why := effectBoundOf(faults[0])
	run.awaitEffect(bound, why)
	// The fault lasts twice the LB's detection window plus a sample timeout from when it
	// took effect: long enough to see the LB take the server out and clients keep
	// working after that. A fault duration, not a wait for a condition.
	run.hold(2*run.bounds.LBDetection().Value + sampleTimeout)
	run.recover()
	for _, target := range targets {
		run.awaitBackInRotation(target, in.Spec.Waits.ComponentRestart.Duration)
	}
	run.awaitReady()
	tl, _ := run.end()
	run.expectEffectHeld(tl, bound)
	expectLBRerouting(run, tl, targets, what)
	run.expectBackInRotation(tl, targets, what)
	run.expectCommonGuaranteesAndRecovered()
}

// expectLBRerouting reports the LB judge's findings and fails with its verdict.
func expectLBRerouting(run *faultRun, tl probe.Timeline, targets []string, what string) {
	expectJudgement(judgeLBRerouting(tl, targets, run.injectAt, run.recoveringAt, run.bounds.LBDetection(), what))
}
