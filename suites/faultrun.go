package suites

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/guarantees"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// The fault-run pipeline every fault spec goes through:
//
//	gate → record → inject → in effect → hold → recover → healthy again → judge
//
// Each step marks a typed event on the timeline and says which verdict a failure in it
// stands for: the gate "environment not ready", inject until the effect is seen "fault
// not in effect", the judges "guarantee broken" and, last, a cluster that was not
// healthy again in time "did not recover" — reported after the guarantees, so it hides
// none. The judges (judge.go) read only the recording.

// effectSeries is the timeline series of the fault's own effect check (fault.Observable),
// polled by the recorder while the fault holds; effectEvery is its cadence: each check
// is a command in a node, so once a second, not ten times.
const (
	effectSeries = "effect"
	effectEvery  = time.Second
)

// signalEffectBound is how soon after its Inject returned a fault that acts at once (a
// signal, a rule, a paused container) must be seen in effect: two checks' answer times
// (a check is a command in a node, and one may time out on a busy node; the next must
// answer).
const signalEffectBound = 2 * sampleTimeout

// effectUnknown is the value of an effect check that gave no answer in time: neither
// proof that the fault holds nor that it lapsed.
const effectUnknown = "unknown"

// faultEnv is what every fault spec gets from its caller.
type faultEnv struct {
	Spec         topology.Spec
	Provider     cluster.Provider
	Injector     *fault.Injector
	ArtifactsDir string
	DataPlane    *DataPlane // nil: no data plane to probe
}

// faultRun is one fault spec's run of the pipeline.
type faultRun struct {
	ctx      context.Context
	env      faultEnv
	obs      *observation
	injected []*fault.Injected
	observed []fault.Observable // the faults whose effect is checked
	// the pipeline's instants on the recorder's clock
	injectAt, inPlaceAt, recoveringAt, recoveredAt time.Duration
	injectTime                                     time.Time // injectAt on the wall clock, for fault.Observable
	inPlaceTime                                    time.Time // when the last Inject returned
	stopEffect                                     context.CancelFunc
	unhealthy                                      []string // recovery problems, reported by expectCommonGuaranteesAndRecovered
	bounds                                         topology.Bounds
	dataPlane                                      dataPlaneRule // what the data plane owes (a worker spec names its lost worker)
}

// startFaultRun passes the readiness gate and starts the recording.
func startFaultRun(ctx context.Context, env faultEnv, oin observeInput) *faultRun {
	expectEnvironmentReady(ctx, env.Spec, env.Provider)
	expectDataPlaneReady(ctx, env)
	oin.Spec, oin.Provider, oin.ArtifactsDir, oin.APITraffic = env.Spec, env.Provider, env.ArtifactsDir, true
	return newFaultRun(ctx, env, oin)
}

// newFaultRun starts the recording of a run whose gate has passed.
func newFaultRun(ctx context.Context, env faultEnv, oin observeInput) *faultRun {
	r := &faultRun{ctx: ctx, env: env, bounds: boundsOf(ctx, env.Spec, env.Provider)}
	if env.DataPlane != nil {
		oin.DataPlane = env.DataPlane.Targets
		r.dataPlane.Workers = env.DataPlane.Workers
	}
	r.obs = startObservation(ctx, oin)
	return r
}

// expectDataPlaneReady is the data plane's part of the readiness gate.
func expectDataPlaneReady(ctx context.Context, env faultEnv) {
	if env.DataPlane == nil {
		return
	}
	cfg, err := env.Provider.RESTConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	expectDataPlaneServing(ctx, env.DataPlane, env.Spec, kubernetes.NewForConfigOrDie(cfg))
}

// inject injects the faults one after the other; every one is recovered by recover()
// and, before Inject, registered for cleanup, so a failing spec still recovers.
func (r *faultRun) inject(faults ...fault.Fault) {
	for _, f := range faults {
		r.injected = append(r.injected, r.injectAside(f))
	}
	r.inPlaceAt = r.obs.rec.Mark(probe.EventInPlace, "fault in place")
}

// injectAside injects f like inject but leaves it out of recover(): the caller recovers
// it when its moment comes (a CPU limit kept until a member rejoined).
func (r *faultRun) injectAside(f fault.Fault) *fault.Injected {
	skipUnlessProviderCan(r.env.Provider.Capabilities(), f)
	expectPlanned(f)
	stage(verdict.FaultNotInEffect)
	injected, err := r.env.Injector.Prepare(f)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(injected.Recover) // before Inject: a failing spec still recovers
	By(fmt.Sprintf("injecting %s", f.Record()))
	at := r.obs.rec.MarkTarget(probe.EventInject, "inject "+f.Record().String(), f.Record().Target)
	if r.injectTime.IsZero() {
		r.injectAt, r.injectTime = at, time.Now()
	}
	Expect(injected.Inject(r.ctx)).To(Succeed())
	r.inPlaceTime = time.Now()
	if o, ok := f.(fault.Observable); ok {
		r.observed = append(r.observed, o)
	}
	return injected
}

// skipUnlessProviderCan skips the spec when the provider lacks what f needs, saying
// which and why: the spec is listed as skipped, with that reason, in every report.
func skipUnlessProviderCan(c topology.Capabilities, f fault.Fault) {
	if why := cannotInject(c, f); why != "" {
		Skip(why)
	}
}

// expectPlanned stops the spec before f is injected when its dry-run plan
// (guarantees.FaultPlans) does not list f's kind: what hachaos run --dry-run told a
// cluster's owner would be injected must be what is. A harness error before the fault,
// hence "environment not ready".
func expectPlanned(f fault.Fault) {
	spec := CurrentSpecReport().FullText()
	if plan, _ := guarantees.PlanOf(spec); !plan.Planned(f.Record().Kind) {
		failWith(verdict.EnvironmentNotReady, "harness: %s is not in this spec's dry-run plan (guarantees.FaultPlans, %q): the plan must list every fault a spec injects", f.Record(), spec)
	}
}

// cannotInject is why the provider cannot inject f, or "" when it can.
func cannotInject(c topology.Capabilities, f fault.Fault) string {
	missing := c.Missing(f.Needs())
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("not applicable: the %s provider cannot inject %s, it lacks %s", c.Provider, f.Record().Kind, strings.Join(missing, ", "))
}

// awaitEffect waits up to bound after the last Inject returned for every observable
// fault's own effect check to pass, then keeps polling it into the timeline (series "effect")
// until recovery begins. A fault not seen in effect ends the spec "fault not in effect".
func (r *faultRun) awaitEffect(bound time.Duration, why string) {
	By(fmt.Sprintf("checking that the fault takes effect within %s (%s)", bound, why))
	check := r.effectCheck()
	if last := pollUntil(r.ctx, time.Until(r.inPlaceTime.Add(bound)), r.env.Spec.Waits.Poll.Duration, check); last != nil {
		failWith(verdict.FaultNotInEffect, "not seen in effect within %s of its Inject (%s): %v", bound, why, last)
	}
	r.obs.rec.Mark(probe.EventInEffect, "fault in effect")
	ectx, stop := context.WithCancel(context.WithoutCancel(r.ctx))
	r.stopEffect = stop
	r.obs.rec.Poll(ectx, effectSeries, effectEvery, sampleTimeout, func(ctx context.Context) (string, error) {
		if err := check(ctx); err != nil {
			if ctx.Err() != nil {
				return effectUnknown, err
			}
			return "", err
		}
		return "in effect", nil
	})
}

// effectCheck is nil when every observable fault is in effect.
func (r *faultRun) effectCheck() func(ctx context.Context) error {
	observed, since := r.observed, r.injectTime
	return func(ctx context.Context) error {
		var problems []string
		for _, o := range observed {
			if err := o.InEffect(ctx, since); err != nil {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s", strings.Join(problems, "; "))
		}
		return nil
	}
}

// hold keeps the fault for d (a fault duration, not a wait for a condition).
func (r *faultRun) hold(d time.Duration) { holdFault(r.ctx, d) }

// recover undoes every fault inject() injected. recovering marks the last instant the
// fault surely held: it may end anywhere inside Recover.
func (r *faultRun) recover() {
	By("recovering")
	r.recoveringAt = r.obs.rec.Mark(probe.EventRecovering, "recovering")
	if r.stopEffect != nil {
		r.stopEffect()
	}
	stage(verdict.DidNotRecover)
	for _, i := range r.injected {
		Expect(i.Recover(r.ctx)).To(Succeed(), "undo the fault")
	}
	r.recoveredAt = r.obs.rec.Mark(probe.EventRecovered, "recovered")
}

// healthyAgain records whether the cluster became healthy again in one respect (err
// is what waiting for it returned); a miss is kept for expectCommonGuaranteesAndRecovered, after the
// guarantees are judged.
func (r *faultRun) healthyAgain(what string, err error) (time.Duration, bool) {
	if err != nil {
		r.unhealthy = append(r.unhealthy, fmt.Sprintf("%s: %v", what, err))
		return 0, false
	}
	return r.obs.rec.Mark(probe.EventHealthy, what), true
}

// awaitBackInRotation waits, on the recording itself, until the LB's state of target
// shows it in rotation in a sample sent since Recover and, if the LB took it out after
// the inject, in one sent after that: exactly what judgeBackInRotation reads. A stats
// read of its own could see the server UP a moment before the recorder did, and the run
// would end with "never taken back" (the race leader.go's Lease wait had).
func (r *faultRun) awaitBackInRotation(target string, within time.Duration) {
	series := prefixBackend + target
	inRotation := func(s probe.Sample) bool { return s.OK }
	r.healthyAgain(target+" back in the load balancer's rotation within waits.componentRestart",
		pollUntil(r.ctx, within, sampleEvery, func(context.Context) error {
			if _, ok := r.obs.rec.FirstAnswerAfter(series, r.recoveringAt, inRotation); !ok {
				return fmt.Errorf("the recording shows %s in the LB's rotation in no sample since Recover", target)
			}
			down, ok := r.obs.rec.FirstAnswerAfter(series, r.injectAt, func(s probe.Sample) bool { return !s.OK })
			if !ok {
				return nil
			}
			if _, ok := r.obs.rec.FirstAnswerAfter(series, down.Answered(), inRotation); !ok {
				return fmt.Errorf("the recording shows %s out of the LB's rotation since %s", target, secs(down.Answered()))
			}
			return nil
		}))
}

// expectBackInRotation judges how soon the LB took targets back once they were ready
// again (judgeBackInRotation).
func (r *faultRun) expectBackInRotation(tl probe.Timeline, targets []string, what string) {
	r.expectRecovered(judgeBackInRotation(tl, targets, r.injectAt, r.bounds.LBRise(), r.env.Spec.LoadBalancer.CheckLimit(), what))
}

// expectRecovered reports a recovery judge's measurements; a cluster not healthy again
// in its respect is kept for expectCommonGuaranteesAndRecovered, like every recovery
// problem, so it hides no guarantee.
func (r *faultRun) expectRecovered(j judgement) {
	for _, m := range j.Measured {
		report(m)
	}
	if j.Verdict != verdict.Passed {
		r.unhealthy = append(r.unhealthy, j.Reason)
	}
}

// awaitReady runs the readiness gate after the fault, with the patience of the one
// before it (waits.clusterReady). Not once the run already did not recover: the gate
// holds every member and server to being back, so it would only wait out its whole
// patience to say so again (an etcd member never restarted made a control wait 6
// minutes more); the next spec's gate waits for the cluster anyway.
func (r *faultRun) awaitReady() {
	if len(r.unhealthy) > 0 {
		progress("readiness gate after the fault not awaited: the cluster already did not recover (%s)", strings.Join(r.unhealthy, "; "))
		return
	}
	By("waiting for the cluster to pass its readiness gate again")
	r.healthyAgain("the readiness gate within waits.clusterReady after recovery", readinessGate(r.ctx, r.env.Spec, r.env.Provider))
}

// end stops the recording and returns it; saved under the spec's name.
func (r *faultRun) end() (probe.Timeline, probe.KVHistory) {
	if r.stopEffect != nil {
		r.stopEffect()
	}
	return r.obs.end(r.env.ArtifactsDir)
}

// window is the fault's effect window on the timeline.
func (r *faultRun) window(bound time.Duration) effectWindow {
	until := r.recoveringAt
	if until == 0 {
		until = r.obs.rec.Since()
	}
	return effectWindow{Inject: r.injectAt, Until: until, Bound: bound}
}

// expectEffectHeld: the fault's own effect check, as recorded, held from when it was
// first seen until recovery began.
func (r *faultRun) expectEffectHeld(tl probe.Timeline, bound time.Duration) {
	if len(r.observed) == 0 {
		return
	}
	expectJudgement(judgeEffectSeries(tl, effectSeries, r.window(bound), effectEvery))
}

// judging says that failures from here on are broken guarantees.
func judging() { stage(verdict.GuaranteeBroken) }

// expectCommonGuaranteesAndRecovered judges the guarantees every fault run has — the
// Kubernetes API as clients saw it through the LB (apicheck) and the data plane as the
// applications' clients saw it (judgeDataPlane) — and then ends the spec "did not
// recover" if the cluster was not healthy again in time; called after the spec's own
// guarantees.
func (r *faultRun) expectCommonGuaranteesAndRecovered() {
	tl, _ := r.end()
	until := r.recoveringAt
	if until == 0 {
		until = tl.End()
	}
	expectJudgement(judgeAPIConsistency(r.obs.APIHistory()))
	expectJudgement(judgeDataPlane(tl, r.dataPlane, r.injectAt, until, tl.End()))
	if len(r.unhealthy) > 0 {
		failWith(verdict.DidNotRecover, "%s", strings.Join(r.unhealthy, "; "))
	}
}

// expectJudgement reports the judge's measurements and fails with its verdict when it
// found something wrong.
func expectJudgement(j judgement) {
	for _, n := range j.Notes {
		AddReportEntry(reports.MeasurementEntryPrefix+n.Name, n.Value)
	}
	for _, m := range j.Measured {
		report(m)
	}
	if j.Verdict != verdict.Passed {
		failWith(j.Verdict, "%s", j.Reason)
	}
}

// pollUntil calls check every poll until it returns nil, up to timeout (probe.PollUntil,
// each call bounded by two sample timeouts).
func pollUntil(ctx context.Context, timeout, poll time.Duration, check func(ctx context.Context) error) error {
	return probe.PollUntil(ctx, timeout, poll, 2*sampleTimeout, check)
}
