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
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// LeaderElectionSpecInput is what LeaderElectionSpec needs.
type LeaderElectionSpecInput struct {
	Spec         topology.Spec
	Provider     cluster.Provider
	Injector     *fault.Injector
	ArtifactsDir string
	// DataPlane is the data-plane workload probed during the fault (nil: none).
	DataPlane *DataPlane
	// WorkloadImage is agnhost's image, present on every node, for the Pods that prove
	// scheduling and controllers work after the takeover (Ready when they serve).
	WorkloadImage string
}

func (in LeaderElectionSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "LeaderElectionSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "LeaderElectionSpecInput.Injector is required")
	Expect(in.ArtifactsDir).NotTo(BeEmpty(), "LeaderElectionSpecInput.ArtifactsDir is required")
	Expect(in.WorkloadImage).NotTo(BeEmpty(), "LeaderElectionSpecInput.WorkloadImage is required")
}

// LeaderElectionSpec asserts that when the instance holding the kube-scheduler or
// kube-controller-manager Lease is killed (SIGKILL: it cannot release the Lease), a
// standby on another control plane holds the Lease within the leader-election bound of
// the Spec's timeouts, and that scheduling and the controllers work afterwards.
func LeaderElectionSpec(inputGetter func() LeaderElectionSpecInput) {
	for _, component := range leaderElected {
		It("hands the "+component+" Lease to a standby within its bounds when the leader is killed", func(ctx SpecContext) {
			in := inputGetter()
			in.validate()
			run := startFaultRun(ctx, faultEnv{Spec: in.Spec, Provider: in.Provider, Injector: in.Injector, ArtifactsDir: in.ArtifactsDir, DataPlane: in.DataPlane}, observeInput{})
			judging() // taking part in leader election is a guarantee of its own
			expectEveryInstanceElects(ctx, in.Spec, in.Provider, component)
			stage(verdict.EnvironmentNotReady)
			le := leaderElectionOf(in.Spec, component)
			cfg, err := in.Provider.RESTConfig(ctx)
			Expect(err).NotTo(HaveOccurred())
			client := kubernetes.NewForConfigOrDie(cfg)
			holder, err := leaseHolder(client, component)(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(holder).NotTo(BeEmpty(), "environment not ready: the %s Lease is held by nobody before the fault", component)

			f, err := fault.NewProcessKill(in.Provider, leaseNode(holder), component)
			Expect(err).NotTo(HaveOccurred())
			run.inject(f)
			run.awaitEffect(signalEffectBound, "a SIGKILL acts at once")
			bound := run.bounds.LeaseTakeover(component, le)
			By(fmt.Sprintf("waiting for a standby to hold the %s Lease (bound %s)", component, bound.Value))
			// Waited for only to end the fault early, on the recording itself: the verdict
			// comes from the timeline, and a read of its own once saw the new holder a
			// moment before the recorder did, so the run ended with "no other instance
			// took it".
			if err := pollUntil(ctx, bound.Value+in.Spec.Waits.ComponentRestart.Duration, sampleEvery, func(context.Context) error {
				if _, ok := run.obs.rec.FirstAnswerAfter(prefixLease+component, run.injectAt, takenFrom(holder)); !ok {
					return fmt.Errorf("no other holder recorded yet")
				}
				return nil
			}); err == nil {
				run.obs.rec.Mark(probe.EventNote, "another instance holds the Lease")
			}
			run.recover()
			run.awaitReady()
			tl, _ := run.end()
			run.expectEffectHeld(tl, signalEffectBound)
			judging()
			judgeLeaseTakeover(tl, component, holder, run.injectAt, bound)
			By("checking that a new Deployment gets scheduled, created and Ready")
			after := &workload{Name: "hachaos-after-" + component, Replicas: 2, MinAvailable: 1, Image: in.WorkloadImage}
			after.deploy(ctx, client, in.Spec.Waits.ComponentRestart.Duration)
			run.expectCommonGuaranteesAndRecovered()
		})
	}
}

func leaderElectionOf(spec topology.Spec, component string) topology.LeaderElection {
	t := spec.ResolvedTimeouts()
	if component == "kube-scheduler" {
		return t.Scheduler
	}
	return t.ControllerManager
}

// judgeLeaseTakeover: the first holder after the kill is another instance — a standby,
// or the killed one restarted by the kubelet (it too waits for the Lease to expire) —
// within the bound; the holders seen are reported as evidence.
func judgeLeaseTakeover(tl probe.Timeline, component, old string, killedAt time.Duration, bound topology.Bound) {
	series := prefixLease + component
	// "Taken at" is the first answer that named another instance: when an observer knew.
	taken, ok := tl.FirstAnswerAfter(series, killedAt, takenFrom(old))
	takenAt := taken.Answered()
	AddReportEntry("measured: "+component+" Lease holders", holderSequence(tl, series))
	Expect(ok).To(BeTrue(), "%s Lease: no other instance took it after %s was killed", component, leaseText(old))
	by := "a standby on " + leaseNode(taken.Value)
	if leaseNode(taken.Value) == leaseNode(old) {
		by = "the killed instance, restarted on " + leaseNode(old)
	}
	AddReportEntry("measured: "+component+" Lease taken over by", by)
	took := takenAt - killedAt
	nobody := tl.Between(series, killedAt, takenAt)
	measureBound(component+" Lease taken over after the leader was killed", took, bound)
	Expect(took).To(BeNumerically("<=", bound.Value),
		"%s Lease taken over %s after its holder %s was killed (%d samples held by nobody); bound %s",
		component, took.Round(100*time.Millisecond), leaseText(old), nobody.Failures, bound)
}

// takenFrom matches a Lease sample that names a holder other than old.
func takenFrom(old string) func(probe.Sample) bool {
	return func(s probe.Sample) bool { return s.OK && s.Value != "" && s.Value != old }
}

// leaseText writes a lease series value as "<node> (<instance>…)".
func leaseText(value string) string {
	node, instance, ok := strings.Cut(value, " ")
	if !ok {
		return node
	}
	return fmt.Sprintf("%s (%.8s)", node, instance)
}

// holderSequence lists the distinct holders in the order they were seen, with when.
func holderSequence(tl probe.Timeline, series string) string {
	var parts []string
	last := "\x00"
	for _, s := range tl.Series[series] {
		v := leaseText(s.Value)
		if !s.OK {
			v = "(unreadable)"
		} else if v == "" {
			v = "(nobody)"
		}
		if v != last {
			parts = append(parts, fmt.Sprintf("%.1fs %s", s.At.Seconds(), v))
			last = v
		}
	}
	return strings.Join(parts, " → ")
}
