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
)

// LeaderElectionSpecInput is what LeaderElectionSpec needs.
type LeaderElectionSpecInput struct {
	Spec         topology.Spec
	Provider     topology.Provider
	Injector     *fault.Injector
	ArtifactsDir string
	// WorkloadImage is an image present on every node, for the Pods that prove
	// scheduling and controllers work after the takeover.
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
func LeaderElectionSpec(ctx context.Context, inputGetter func() LeaderElectionSpecInput) {
	for _, component := range leaderElected {
		It("hands the "+component+" Lease to a standby within its bounds when the leader is killed", func() {
			in := inputGetter()
			in.validate()
			expectEnvironmentReady(ctx, in.Spec, in.Provider)
			expectEveryInstanceElects(ctx, in.Spec, in.Provider, component)
			le := leaderElectionOf(in.Spec, component)
			obs := startObservation(ctx, observeInput{Spec: in.Spec, Provider: in.Provider, ArtifactsDir: in.ArtifactsDir})
			cfg, err := in.Provider.RESTConfig(ctx)
			Expect(err).NotTo(HaveOccurred())
			client := kubernetes.NewForConfigOrDie(cfg)
			holder, err := leaseHolder(client, component)(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(holder).NotTo(BeEmpty(), "environment not ready: the %s Lease is held by nobody before the fault", component)

			f, err := fault.NewProcessKill(in.Provider, holder, component)
			Expect(err).NotTo(HaveOccurred())
			injected, err := in.Injector.Prepare(f)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(injected.Recover)
			By(fmt.Sprintf("killing %s on %s, the Lease holder", component, holder))
			killedAt := obs.mark("inject " + f.Record().String())
			Expect(injected.Inject(ctx)).To(Succeed())

			bound := le.LeaseTakeoverBound()
			By(fmt.Sprintf("waiting for a standby to hold the %s Lease (bound %s)", component, bound))
			Eventually(leaseHolder(client, component)).WithContext(ctx).
				WithTimeout(bound+in.Spec.Waits.ComponentRestart.Duration).WithPolling(sampleEvery).
				Should(And(Not(BeEmpty()), Not(Equal(holder))), "a standby takes the %s Lease", component)
			obs.mark("standby holds the Lease")
			Expect(injected.Recover(ctx)).To(Succeed())

			By("checking that a new Deployment gets scheduled, created and Ready")
			after := &workload{Name: "hachaos-after-" + component, Replicas: 2, MinAvailable: 1, Image: in.WorkloadImage}
			after.deploy(ctx, client, in.Spec.Waits.ComponentRestart.Duration)
			tl, _ := obs.end(in.ArtifactsDir)
			judgeLeaseTakeover(tl, component, holder, killedAt, le)
			expectEnvironmentReady(ctx, in.Spec, in.Provider)
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

// judgeLeaseTakeover: the first holder after the kill is another instance, within the
// bound; the holders seen are reported as evidence.
func judgeLeaseTakeover(tl probe.Timeline, component, old string, killedAt time.Duration, le topology.LeaderElection) {
	series := prefixLease + component
	takenAt, ok := tl.FirstAfter(series, killedAt, func(s probe.Sample) bool { return s.OK && s.Value != "" && s.Value != old })
	AddReportEntry("measured: "+component+" Lease holders", holderSequence(tl, series))
	bound := le.LeaseTakeoverBound()
	Expect(ok).To(BeTrue(), "%s Lease: no standby took it after %s was killed", component, old)
	took := takenAt - killedAt
	nobody := tl.Between(series, killedAt, takenAt)
	measure(component+" Lease taken over after the leader was killed", took, bound, leaseFormula(le))
	Expect(took).To(BeNumerically("<=", bound),
		"%s Lease taken over %s after its holder %s was killed (%d samples held by nobody); bound %s = lease %s + 2 × retry %s × (1 + jitter 1.2)",
		component, took.Round(100*time.Millisecond), old, nobody.Failures, bound, le.LeaseDuration, le.RetryPeriod)
}

// leaseFormula spells out LeaseTakeoverBound with the values in use.
func leaseFormula(le topology.LeaderElection) string {
	return fmt.Sprintf("lease %s + 2 × retry %s × (1 + jitter 1.2)", le.LeaseDuration, le.RetryPeriod)
}

// holderSequence lists the distinct holders in the order they were seen, with when.
func holderSequence(tl probe.Timeline, series string) string {
	var parts []string
	last := "\x00"
	for _, s := range tl.Series[series] {
		v := s.Value
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
