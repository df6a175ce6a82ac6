package suites

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// SecurityFaultsSpecInput is what SecurityFaultsSpec needs.
type SecurityFaultsSpecInput struct {
	Spec     topology.Spec
	Provider cluster.Provider
	Injector *fault.Injector
}

func (in SecurityFaultsSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "SecurityFaultsSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "SecurityFaultsSpecInput.Injector is required")
}

// SecurityFaultsSpec runs the fault scenarios after which security must still hold: an
// etcd member crashes and restarts, and a control plane is partitioned and healed. Each
// ends with the readiness gate. The caller runs SecuritySpec after it (an Ordered
// container), so a member or component that came back with weaker settings — a
// plaintext listener, anonymous access, a new certificate — is caught.
func SecurityFaultsSpec(inputGetter func() SecurityFaultsSpecInput) {
	It("restarts an etcd member and heals a control-plane partition before the checks run again", func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		expectEnvironmentReady(ctx, in.Spec, in.Provider)
		members := nodeNames(ctx, in.Provider, etcdRole(in.Spec))
		crash, err := fault.NewEtcdMemberCrash(in.Provider, members[len(members)-1], in.Spec.Etcd.Mode)
		Expect(err).NotTo(HaveOccurred())
		injectRecoverAndSettle(ctx, in, crash, 0)

		planes := nodeNames(ctx, in.Provider, topology.RoleControlPlane)
		target := planes[len(planes)-1]
		peers, err := fault.ControlPlanePeers(ctx, in.Provider, target, false)
		Expect(err).NotTo(HaveOccurred())
		part, err := fault.NewPartition(in.Provider, target, peers, fault.PartitionBoth)
		Expect(err).NotTo(HaveOccurred())
		// Held past the etcd election bound, so the isolated side really loses its
		// peers before it is healed (a fault duration, not a wait).
		injectRecoverAndSettle(ctx, in, part, 2*boundsOf(ctx, in.Spec, in.Provider).EtcdElection().Value)
	})
}

// etcdRole is where the etcd members run: on the control planes (stacked) or in their
// own containers (external); either way a member's name is its node's name.
func etcdRole(spec topology.Spec) topology.Role {
	if spec.Etcd.Mode == topology.EtcdExternal {
		return topology.RoleEtcd
	}
	return topology.RoleControlPlane
}

// injectRecoverAndSettle injects f, checks that it took effect, holds it, recovers it and
// waits for the readiness gate. It records no timeline: what it prepares is judged by
// SecuritySpec afterwards.
func injectRecoverAndSettle(ctx context.Context, in SecurityFaultsSpecInput, f fault.Observable, hold time.Duration) {
	skipUnlessProviderCan(in.Provider.Capabilities(), f)
	expectPlanned(f)
	stage(verdict.FaultNotInEffect)
	injected, err := in.Injector.Prepare(f)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(injected.Recover)
	By(fmt.Sprintf("injecting %s", f.Record()))
	since := time.Now()
	Expect(injected.Inject(ctx)).To(Succeed())
	if err := pollUntil(ctx, signalEffectBound, in.Spec.Waits.Poll.Duration, func(ctx context.Context) error { return f.InEffect(ctx, since) }); err != nil {
		failWith(verdict.FaultNotInEffect, "%s not seen in effect within %s: %v", f.Record(), signalEffectBound, err)
	}
	if hold > 0 {
		holdFault(ctx, hold)
	}
	stage(verdict.DidNotRecover)
	Expect(injected.Recover(ctx)).To(Succeed())
	if err := readinessGate(ctx, in.Spec, in.Provider); err != nil {
		failWith(verdict.DidNotRecover, "the readiness gate within waits.clusterReady after %s was recovered: %v", f.Record(), err)
	}
	stage(verdict.EnvironmentNotReady)
}
