package suites

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// PodReschedulingSpecInput is what PodReschedulingSpec needs.
type PodReschedulingSpecInput struct {
	Spec         topology.Spec
	Provider     cluster.Provider
	Injector     *fault.Injector
	ArtifactsDir string
	// DataPlane is the data-plane workload probed during the fault (nil: none).
	DataPlane *DataPlane
	// WorkloadImage is agnhost's image, present on every worker (no registry is
	// reachable): the workload serves with its netexec.
	WorkloadImage string
}

func (in PodReschedulingSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "PodReschedulingSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "PodReschedulingSpecInput.Injector is required")
	Expect(in.ArtifactsDir).NotTo(BeEmpty(), "PodReschedulingSpecInput.ArtifactsDir is required")
	Expect(in.WorkloadImage).NotTo(BeEmpty(), "PodReschedulingSpecInput.WorkloadImage is required")
}

// PodReschedulingSpec asserts what an HA workload (a Deployment spread over the workers,
// with a PodDisruptionBudget) gets from the cluster when a worker goes away: after a
// drain or the loss of the worker, the workload is back to full Ready replicas on healthy
// nodes within a bound from the Spec's timeouts; during a drain the PDB is never
// violated.
func PodReschedulingSpec(inputGetter func() PodReschedulingSpecInput) {
	It("reschedules the workload onto healthy workers when a worker is lost", func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		run := startWorkerRun(ctx, in)
		f, err := fault.NewWorkerLoss(in.Provider, run.target, fault.WorkerLossModeFor(in.Provider.Capabilities()))
		Expect(err).NotTo(HaveOccurred())
		b := run.bounds.WorkerLossReschedule()
		bound, formula := b.Value, b.FormulaText()
		// the data plane: the other workers' NodePorts stop sending to the lost one's Pod
		run.dataPlane.Lost, run.dataPlane.Routing = run.target, run.bounds.WorkerLossRouting(routingTimingsOf(ctx, in.Spec, in.Provider), sampleTimeout)
		run.injectAndAwaitRescheduled(f, signalEffectBound, bound, formula)
		judging()
		run.judgeRescheduled("worker lost", bound, formula)
		run.expectCommonGuaranteesAndRecovered()
	})

	It("drains a worker without violating the PodDisruptionBudget and reschedules its Pods", func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		run := startWorkerRun(ctx, in)
		b := run.bounds.DrainReschedule(run.onTarget, fault.EvictRetryDelay)
		bound, formula := b.Value, b.FormulaText()
		// The drain itself may take up to waits.componentRestart: one slower than its
		// bound is a broken guarantee (judged below), not a fault that did not take effect.
		limit := max(bound, in.Spec.Waits.ComponentRestart.Duration)
		f, err := fault.NewWorkerDrain(in.Provider, run.target, limit, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		// The drain's Inject returns once the worker is drained (kubectl's drain waits for
		// the evicted Pods to be deleted): its effect shows at once after it, within a
		// check's own bound — not the drain's limit, which a disabled drain (the
		// self-check) would wait out for nothing.
		run.injectAndAwaitRescheduled(f, signalEffectBound, bound, formula)
		judging()
		tl := run.timeline
		// Until the workload was back, or (not back in time) until recovery began.
		until := run.recoveringAt
		if run.rescheduled == nil {
			until = run.rescheduledAt
		}
		lowest, at := lowestReady(tl, run.injectAt, until)
		measureAtLeast("drain: fewest Ready replicas during the drain", int(lowest), int(run.w.MinAvailable), "Pods", "the PodDisruptionBudget's minAvailable")
		Expect(lowest).To(BeNumerically(">=", run.w.MinAvailable),
			"during the drain of %s only %d of %d replicas were Ready (at %.1fs); the PodDisruptionBudget promises at least %d",
			run.target, lowest, run.w.Replicas, at.Seconds(), run.w.MinAvailable)
		run.judgeRescheduled("drain", bound, formula)
		run.expectCommonGuaranteesAndRecovered()
	})
}

// workerRun is one worker fault run: the pipeline with the workload.
type workerRun struct {
	*faultRun
	in            PodReschedulingSpecInput
	client        kubernetes.Interface
	w             *workload
	target        string // the worker taken away
	onTarget      int    // workload Pods on it before the fault
	rescheduledAt time.Duration
	rescheduled   error // why the workload was not back in time, if it was not
	timeline      probe.Timeline
}

func startWorkerRun(ctx context.Context, in PodReschedulingSpecInput) *workerRun {
	env := faultEnv{Spec: in.Spec, Provider: in.Provider, Injector: in.Injector, ArtifactsDir: in.ArtifactsDir, DataPlane: in.DataPlane}
	expectEnvironmentReady(ctx, in.Spec, in.Provider)
	cfg, err := in.Provider.RESTConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	run := &workerRun{in: in, client: kubernetes.NewForConfigOrDie(cfg)}
	workers := nodeNames(ctx, in.Provider, topology.RoleWorker)
	Expect(len(workers)).To(BeNumerically(">=", 2), "rescheduling needs at least 2 workers")
	replicas := int32(2 * len(workers))
	run.w = &workload{Name: "hachaos-app", Replicas: replicas, MinAvailable: replicas - 1, Image: in.WorkloadImage,
		NoPDB: in.Spec.Sabotage.WorkloadWithoutPDB}
	if in.Spec.Sabotage.WorkloadSlowToStart {
		run.w.ReadyAfter = 2 * in.Spec.Waits.PodStartup.Duration
	}
	if in.Spec.Sabotage.WorkloadPinned {
		run.w.Pinned = workers[0]
	}
	run.w.deploy(ctx, run.client, in.Spec.Waits.ComponentRestart.Duration)
	_, perNode, err := run.w.count(ctx, run.client)
	Expect(err).NotTo(HaveOccurred())
	run.target = workers[0] // holds Pods either way: spread, or pinned there
	run.onTarget = perNode[run.target]
	Expect(run.onTarget).To(BeNumerically(">", 0), "environment not ready: no workload Pod on %s (%v)", run.target, perNode)
	expectDataPlaneReady(ctx, env)
	run.faultRun = newFaultRun(ctx, env, observeInput{Spec: in.Spec, Provider: in.Provider, Workload: run.w, ArtifactsDir: in.ArtifactsDir, APITraffic: true})
	return run
}

// injectAndAwaitRescheduled injects f, checks its effect within effectBound, and waits,
// up to bound, for every replica to be Ready on a node other than the target; then it
// recovers the worker and the cluster's readiness.
func (r *workerRun) injectAndAwaitRescheduled(f fault.Fault, effectBound, bound time.Duration, formula string) {
	r.inject(f)
	r.awaitEffect(effectBound, "the worker's kubelet stops answering, or the drain is done")
	By(fmt.Sprintf("waiting for %d Ready replicas off %s (bound %s = %s)", r.w.Replicas, r.target, bound, formula))
	r.rescheduled = pollUntil(r.ctx, bound-time.Since(r.injectTime), sampleEvery, func(ctx context.Context) error {
		total, perNode, err := r.w.count(ctx, r.client)
		if err != nil {
			return err
		}
		if int32(total) != r.w.Replicas || perNode[r.target] > 0 {
			return fmt.Errorf("%d of %d Ready: %s", total, r.w.Replicas, formatPerNode(perNode))
		}
		return nil
	})
	if r.rescheduled == nil {
		r.rescheduledAt = r.obs.rec.Mark(probe.EventNote, "rescheduled")
	}
	r.recover()
	r.awaitReady()
	r.timeline, _ = r.end()
	// effectBound runs from Inject's return, as awaitEffect's does: a drain's Inject
	// lasts the whole drain.
	r.expectEffectHeld(r.timeline, effectBound+(r.inPlaceAt-r.injectAt))
}

func (r *workerRun) judgeRescheduled(what string, bound time.Duration, formula string) {
	Expect(r.rescheduled).NotTo(HaveOccurred(), "%s: the workload not back to %d Ready replicas on healthy nodes within its bound %s = %s", what, r.w.Replicas, bound, formula)
	took := r.rescheduledAt - r.injectAt
	measure(what+": workload back to full Ready replicas on healthy nodes after", took, bound, formula)
	Expect(took).To(BeNumerically("<=", bound), "%s: the workload not back to %d Ready replicas on healthy nodes within its bound %s = %s: it took %s", what, r.w.Replicas, bound, formula, took)
}

// lowestReady is the fewest Ready replicas the workload series saw in [from, to).
func lowestReady(tl probe.Timeline, from, to time.Duration) (int32, time.Duration) {
	lowest, at := int32(-1), time.Duration(0)
	for _, s := range tl.Series[seriesWorkload] {
		if s.At < from || s.At >= to || !s.OK {
			continue
		}
		total, _ := readyPods(s.Value)
		if lowest < 0 || int32(total) < lowest {
			lowest, at = int32(total), s.At
		}
	}
	Expect(lowest).To(BeNumerically(">=", 0), "the workload was never observed during the fault")
	return lowest, at
}
