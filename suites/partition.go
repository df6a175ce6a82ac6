package suites

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// PartitionSpecInput is what PartitionSpec needs.
type PartitionSpecInput struct {
	Spec         topology.Spec
	Provider     cluster.Provider
	Injector     *fault.Injector
	ArtifactsDir string
	// DataPlane is the data-plane workload probed during the fault (nil: none).
	DataPlane *DataPlane
}

func (in PartitionSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "PartitionSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "PartitionSpecInput.Injector is required")
	Expect(in.ArtifactsDir).NotTo(BeEmpty(), "PartitionSpecInput.ArtifactsDir is required")
}

// PartitionSpec cuts one control-plane node off from the others (etcd peer and API
// traffic; with external etcd also from the etcd members) and asserts that the
// majority side keeps serving: clients through the load balancer keep working after its
// detection window, the etcd leader and the Lease holders end up on the majority side,
// no acknowledged write is lost and the history stays linearizable (no split brain), the
// isolated etcd member cannot commit a write; after healing, it rejoins and catches up.
func PartitionSpec(inputGetter func() PartitionSpecInput) {
	for _, dir := range []fault.PartitionDirection{fault.PartitionBoth, fault.PartitionInbound} {
		It(fmt.Sprintf("keeps the majority serving when a control plane is partitioned (%s); the minority rejoins", dir), func(ctx SpecContext) {
			in := inputGetter()
			in.validate()
			run := startPartitionRun(ctx, in)
			run.partition(dir)
			run.judge(string(dir))
		})
	}
}

type partitionRun struct {
	ctx     context.Context
	in      PartitionSpecInput
	etcd    *etcdRun // the etcd side: traffic, members, rejoin
	target  string   // the isolated control plane
	member  string   // its etcd member (stacked), "" with external etcd
	holders map[string]string
	watches map[string]*leadershipWatch // per component whose Lease the target holds
	// isolatedWrite is what the write through the isolated member returned (judged
	// after the partition is shown to have held).
	isolatedWrite error
	isolatedTried bool
}

func startPartitionRun(ctx context.Context, in PartitionSpecInput) *partitionRun {
	er := startEtcdRun(ctx, EtcdToleranceSpecInput{Spec: in.Spec, Provider: in.Provider, Injector: in.Injector, ArtifactsDir: in.ArtifactsDir, DataPlane: in.DataPlane})
	run := &partitionRun{ctx: ctx, in: in, etcd: er, holders: map[string]string{}}
	cfg, err := in.Provider.RESTConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	client := kubernetes.NewForConfigOrDie(cfg)
	for _, c := range leaderElected {
		h, err := leaseHolder(client, c)(ctx)
		Expect(err).NotTo(HaveOccurred())
		run.holders[c] = h
	}
	// Isolate the node that leads the most, so every leader has to move: the Lease
	// holders' node, made the etcd leader's too (stacked; external etcd runs elsewhere).
	// Left to chance, the isolated node held only the etcd leadership in some runs and
	// everything in others, and those are different faults.
	run.target = leaseNode(run.holders["kube-scheduler"])
	if leaseNode(run.holders["kube-controller-manager"]) == er.leader {
		run.target = er.leader
	}
	Expect(run.target).NotTo(BeEmpty())
	if in.Spec.Etcd.Mode == topology.EtcdStacked {
		run.member = run.target
		er.moveLeader(run.target)
	}
	return run
}

// partition isolates the target, holds, heals, and waits for the member to rejoin.
func (r *partitionRun) partition(dir fault.PartitionDirection) {
	peers, err := fault.ControlPlanePeers(r.ctx, r.in.Provider, r.target, false)
	Expect(err).NotTo(HaveOccurred())
	if r.in.Spec.Etcd.Mode == topology.EtcdExternal {
		members, err := r.in.Provider.Nodes(r.ctx, topology.RoleEtcd)
		Expect(err).NotTo(HaveOccurred())
		for _, m := range members {
			peers = append(peers, m.IP)
		}
	}
	f, err := fault.NewPartition(r.in.Provider, r.target, peers, dir)
	Expect(err).NotTo(HaveOccurred())
	// Long enough for every leader to have moved: the longer Lease takeover bound, plus
	// the LB's detection window and the etcd election bound before it. A fault
	// duration, not a wait for a condition.
	t := r.in.Spec.ResolvedTimeouts()
	b := r.etcd.bounds
	hold := max(t.Scheduler.LeaseTakeoverBound(), t.ControllerManager.LeaseTakeoverBound()) +
		b.LBDetection().Value + b.EtcdElection().Value
	// The isolated Lease holders' logs are followed from before the cut until the
	// standbys must have taken over (see leadershipWatch).
	r.watches = map[string]*leadershipWatch{}
	for _, c := range leaderElected {
		if leaseNode(r.holders[c]) == r.target {
			r.watches[c] = watchLeadership(r.ctx, r.in.Provider, c, hold)
		}
	}
	// Injecting takes a while (rules added peer by peer, ~0.5 s here); until it returns
	// (the run's inPlaceAt) the isolated holders may still renew their Leases.
	r.etcd.inject(f)
	var limit *fault.Injected
	if cpus := r.in.Spec.IsolatedNodeCPUs; cpus > 0 {
		// The isolated node as a machine of its own (see Spec.IsolatedNodeCPUs): right
		// after the cut, not before, so the partition's clock starts with the cut; and
		// kept until its member has rejoined, so its catch-up after healing (its API
		// server relisting, its member replaying the log) cannot take the majority's
		// cores either, as it could not on a machine of its own.
		cpuLimit, err := fault.NewCPULimit(r.in.Provider, r.target, cpus)
		Expect(err).NotTo(HaveOccurred())
		limit = r.etcd.injectAside(cpuLimit)
	}
	r.etcd.awaitEffect(signalEffectBound, "iptables rules act at once")
	r.etcd.hold(hold)
	if r.member != "" {
		r.expectIsolatedMemberCannotCommit()
	}
	r.etcd.recover()
	if r.member != "" {
		r.etcd.expectRejoined(r.member, "isolated member", r.etcd.recoveredAt)
	}
	if limit != nil {
		Expect(limit.Recover(r.ctx)).To(Succeed())
	}
}

// expectIsolatedMemberCannotCommit puts a key through the isolated member alone: it
// must not be acknowledged, and (checked after healing) must never appear. The answer
// is judged with the other guarantees, once the partition is shown to have held.
func (r *partitionRun) expectIsolatedMemberCannotCommit() {
	access, err := r.in.Provider.Etcd(r.ctx)
	Expect(err).NotTo(HaveOccurred())
	c, err := access.Client(access.Members[r.member])
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	key := r.etcd.obs.TrafficPrefix() + "isolated-write"
	pctx, cancel := context.WithTimeout(r.ctx, kvOpTimeout)
	defer cancel()
	_, err = c.Put(pctx, key, "must-not-commit")
	AddReportEntry("measured: write through the isolated member "+r.member, fmt.Sprintf("refused: %v", err))
	r.isolatedWrite, r.isolatedTried = err, true
	r.etcd.isolatedKey = key
}

// judgeIsolatedWrite: the write put through the isolated member alone (its answer err)
// was not acknowledged and, read after healing, was not committed (committed). Either
// would be a split brain: a minority of one committing a write.
func judgeIsolatedWrite(member string, err error, committed bool) judgement {
	switch {
	case err == nil:
		return judged(verdict.GuaranteeBroken, "a write through the isolated etcd member %s was acknowledged (split brain)", member)
	case committed:
		return judged(verdict.GuaranteeBroken, "the write the isolated etcd member %s refused (%v) was committed after healing (split brain)", member, err)
	}
	return passed(0)
}

func (r *partitionRun) judge(what string) {
	tl := r.etcd.end()
	if r.member != "" {
		expectJudgement(judgePartitionInEffect(tl, r.member, r.etcd.window(r.etcd.bounds.EtcdElection().Value)))
	}
	r.etcd.expectEffectHeld(tl, signalEffectBound)
	judging()
	if r.isolatedTried {
		expectJudgement(judgeIsolatedWrite(r.member, r.isolatedWrite, false))
	}
	// The guarantees of the majority side first, then the clients' view through the LB,
	// so a failure of one still reports the others.
	r.judgeLeadersMoved(tl, what)
	r.etcd.judgeMinorityFault("partition-" + what)
	if r.etcd.isolatedKey != "" {
		resp, err := r.etcd.obs.Etcd().Get(r.ctx, r.etcd.isolatedKey)
		Expect(err).NotTo(HaveOccurred())
		expectJudgement(judgeIsolatedWrite(r.member, r.isolatedWrite, len(resp.Kvs) > 0))
	}
	// The partition holds until healing begins; what follows is the rejoin. Unlike a
	// stopped one, the isolated API server keeps answering /readyz with its last etcd
	// check for a while, so the LB's health checks can only start failing after that.
	window := r.etcd.bounds.APIServerEtcdUnready().Plus(r.etcd.bounds.LBDetection())
	expectJudgement(judgePartitionLB(tl, r.target, r.etcd.injectAt, r.etcd.recoveringAt, window, "partition "+what))
	r.etcd.expectCommonGuaranteesAndRecovered()
}

// judgeLeadersMoved: at the end of the partition, the etcd leader and every Lease holder
// are on the majority side; the time each took is measured against its bound.
func (r *partitionRun) judgeLeadersMoved(tl probe.Timeline, what string) {
	if r.member != "" {
		expectJudgement(judgeEtcdLeaderMoved(tl, r.member, r.etcd.injectAt, r.etcd.bounds.EtcdElection(), "partition "+what))
	}
	for _, c := range leaderElected {
		held := leaseNode(r.holders[c]) == r.target
		le := leaderElectionOf(r.in.Spec, c)
		// The isolated holder cannot renew, so a standby takes over once the Lease
		// expires: the bound of a killed holder, counted from when the partition was in
		// place (until then the holder could still renew) and from its last renewal that
		// commits (see lastRenewal below).
		bound := r.etcd.bounds.LeaseTakeover(c, le)
		if what == string(fault.PartitionInbound) && r.member != "" {
			bound = r.etcd.bounds.EtcdElection().Plus(bound)
		}
		expectJudgement(judgePartitionLease(tl, c, r.target, held, r.etcd.inPlaceAt, r.etcd.recoveredAt, bound, "partition "+what))
		if held {
			// The isolated leader still runs: it must have stopped leading before its
			// successor started.
			expectNoTwoLeaders(r.watches[c], "partition "+what, r.target, tl.Start.Add(r.etcd.injectAt), le)
		}
	}
}

// lastRenewal: how long after the cut the isolated holder's last Lease renewal can still
// commit. Cut off both ways, nothing it writes reaches the majority: 0. Cut off inbound
// only while its etcd member leads (stacked), the member still sends: entries it appends
// on the followers before it steps down are committed by the next leader with its first
// entry (raft), so a renewal made up to the majority's election commits — seen: a Lease
// that expired 8.5 s after the cut, renewed 2.5 s after it. Then the Lease bound starts
// one etcd election bound later.
