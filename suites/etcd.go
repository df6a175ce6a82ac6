package suites

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
)

// EtcdToleranceSpecInput is what EtcdToleranceSpec needs.
type EtcdToleranceSpecInput struct {
	Spec         topology.Spec
	Provider     topology.Provider
	Injector     *fault.Injector
	ArtifactsDir string
}

func (in EtcdToleranceSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "EtcdToleranceSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "EtcdToleranceSpecInput.Injector is required")
	Expect(in.ArtifactsDir).NotTo(BeEmpty(), "EtcdToleranceSpecInput.ArtifactsDir is required")
}

// EtcdToleranceSpec asserts etcd's quorum guarantee while a writer and a reader run
// against every member: with f ≤ ⌊(n−1)/2⌋ members down, writes keep being
// acknowledged (the longest gap is bounded by the election and the client's timeout), a
// crashed leader is replaced within the election bound, and the member rejoins and
// catches up; with a majority down, no write is acknowledged (safely unavailable) and
// service returns within a bound after restore. In every case no acknowledged write is
// lost and the history is linearizable (porcupine).
func EtcdToleranceSpec(ctx context.Context, inputGetter func() EtcdToleranceSpecInput) {
	It("keeps writes acknowledged and loses none when a follower member is stopped", func() {
		in := inputGetter()
		in.validate()
		run := startEtcdRun(ctx, in)
		if len(run.members) < 3 {
			Skip("a follower can only be stopped with 3 or more members")
		}
		target := run.follower()
		f, err := fault.NewEtcdMemberStop(in.Provider, target, in.Spec.Etcd.Mode)
		Expect(err).NotTo(HaveOccurred())
		run.inject(f)
		// The fault lasts twice the write-gap bound: long enough for a stall to show. It
		// is a fault duration, not a wait for a condition.
		run.hold(2 * topology.EtcdWriteGapBound(kvOpTimeout))
		run.recover()
		run.expectRejoined(target, "stopped follower")
		run.judgeMinorityFault("follower-stopped")
	})

	It("elects a new leader and loses no write when the leader member crashes", func() {
		in := inputGetter()
		in.validate()
		run := startEtcdRun(ctx, in)
		old := run.leader
		f, err := fault.NewEtcdMemberCrash(in.Provider, old, in.Spec.Etcd.Mode)
		Expect(err).NotTo(HaveOccurred())
		run.inject(f)
		run.hold(2 * topology.EtcdWriteGapBound(kvOpTimeout))
		run.recover()
		run.expectRejoined(old, "crashed leader")
		tl := run.end()
		// The clock starts when the old leader stopped answering, not when the kill was
		// sent: the docker exec that delivers it takes its own time on a busy machine.
		// The kubelet may restart it between two samples; then it starts at the kill
		// (the longer measure). A kill without effect elects no new leader and fails below.
		crashed, ok := tl.FirstAfter(prefixEtcd+old, run.injectAt, func(s probe.Sample) bool { return !s.OK })
		if !ok {
			crashed = run.injectAt
		}
		elected, ok := newLeaderAt(tl, run.injectAt, old)
		AddReportEntry("measured: etcd leader crash: old leader", old)
		Expect(ok).To(BeTrue(), "no new etcd leader was elected after leader %s crashed (bound %s = 2 × 2 × election timeout)", old, topology.EtcdElectionBound())
		took := max(elected-crashed, 0)
		measure("etcd leader crash: new leader elected after", took, topology.EtcdElectionBound(), "2 × 2 × election timeout 1 s")
		Expect(took).To(BeNumerically("<=", topology.EtcdElectionBound()),
			"a new etcd leader took %s after leader %s crashed; bound %s = 2 × 2 × election timeout %s",
			took.Round(10*time.Millisecond), old, topology.EtcdElectionBound(), topology.EtcdElectionTimeout)
		run.judgeMinorityFault("leader-crashed")
	})

	It("is safely unavailable with a majority of members stopped and recovers after restore", func() {
		in := inputGetter()
		in.validate()
		run := startEtcdRun(ctx, in)
		majority := run.majority()
		By(fmt.Sprintf("stopping %d of %d members: %v", len(majority), len(run.members), majority))
		for _, m := range majority {
			f, err := fault.NewEtcdMemberStop(in.Provider, m, in.Spec.Etcd.Mode)
			Expect(err).NotTo(HaveOccurred())
			run.inject(f)
		}
		effective := run.allUnreachable(majority)
		run.hold(2 * topology.EtcdWriteGapBound(kvOpTimeout))
		run.recover()
		for i, m := range majority {
			run.expectRejoined(m, fmt.Sprintf("stopped member %d of %d", i+1, len(majority)))
		}
		run.end()
		acked, failed := run.history.PutsIn(effective, run.recoveredAt)
		AddReportEntry("measured: etcd majority down: writes while down", fmt.Sprintf("%d acknowledged, %d failed", acked, failed))
		Expect(acked).To(BeZero(), "%d writes were acknowledged with %d of %d members down: a minority committed (split brain)", acked, len(majority), len(run.members))
		Expect(failed).To(BeNumerically(">", 0), "no write was attempted while the majority was down")
		back, ok := firstAckAfter(run.history, run.recoveredAt)
		bound := in.Spec.Waits.ComponentRestart.Duration + topology.EtcdElectionBound()
		Expect(ok).To(BeTrue(), "no write was acknowledged after the members were restored")
		measure("etcd majority restored: writes acknowledged again after", back-run.recoveredAt, bound, "waits.componentRestart "+in.Spec.Waits.ComponentRestart.Duration.String()+" + etcd election bound 4 s")
		Expect(back-run.recoveredAt).To(BeNumerically("<=", bound),
			"writes came back %s after restore; bound %s = waits.componentRestart + etcd election bound", (back - run.recoveredAt).Round(10*time.Millisecond), bound)
		run.judgeNoLossAndLinearizable("majority-stopped")
	})
}

// etcdRun is one etcd fault with its observation.
type etcdRun struct {
	ctx                   context.Context
	in                    EtcdToleranceSpecInput
	obs                   *observation
	members               []string // member names; each is also its node's name
	leader                string
	injected              []*fault.Injected
	injectAt, recoveredAt time.Duration
	recoveringAt          time.Duration // when recover() began
	history               probe.KVHistory
	isolatedKey           string // a write refused by an isolated member; must never appear
}

func startEtcdRun(ctx context.Context, in EtcdToleranceSpecInput) *etcdRun {
	expectEnvironmentReady(ctx, in.Spec, in.Provider)
	run := &etcdRun{ctx: ctx, in: in}
	run.obs = startObservation(ctx, observeInput{Spec: in.Spec, Provider: in.Provider, Traffic: true, ArtifactsDir: in.ArtifactsDir})
	for _, name := range run.obs.members {
		run.members = append(run.members, name)
	}
	slices.Sort(run.members)
	run.leader = run.currentLeader()
	By("checking that writes are acknowledged before the fault (leader " + run.leader + ")")
	Eventually(func(ctx context.Context) (int64, error) {
		resp, err := run.obs.etcd.Get(ctx, run.obs.prefix+"w/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return 0, err
		}
		return resp.Count, nil
	}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(sampleEvery).Should(BeNumerically(">", 10))
	return run
}

func (r *etcdRun) currentLeader() string {
	st, err := r.obs.etcd.Status(r.ctx, r.obs.etcd.Endpoints()[0])
	Expect(err).NotTo(HaveOccurred(), "etcd status")
	name, ok := r.obs.members[st.Leader]
	Expect(ok).To(BeTrue(), "etcd reports leader %x, not a member", st.Leader)
	return name
}

// moveLeader hands the etcd leadership to member (a no-op if it leads) and waits until
// every member agrees; the spec then starts from a known leader.
func (r *etcdRun) moveLeader(member string) {
	if r.leader == member {
		return
	}
	By(fmt.Sprintf("moving the etcd leadership from %s to %s", r.leader, member))
	var id uint64
	for mid, name := range r.obs.members {
		if name == member {
			id = mid
		}
	}
	Expect(id).NotTo(BeZero(), "%s is not an etcd member", member)
	access, err := r.in.Provider.Etcd(r.ctx)
	Expect(err).NotTo(HaveOccurred())
	c, err := access.Client(access.Members[r.leader]) // only the leader can hand over
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	mctx, cancel := context.WithTimeout(r.ctx, topology.EtcdElectionBound())
	defer cancel()
	_, err = c.MoveLeader(mctx, id)
	Expect(err).NotTo(HaveOccurred(), "move the etcd leadership to %s", member)
	Eventually(func(ctx context.Context) []string {
		var others []string
		for _, url := range access.Members {
			st, err := r.status(ctx, url)
			if err != nil || r.obs.members[st.Leader] != member {
				others = append(others, url)
			}
		}
		return others
	}).WithContext(r.ctx).WithTimeout(topology.EtcdElectionBound()).WithPolling(sampleEvery).
		Should(BeEmpty(), "every etcd member sees %s as the leader", member)
	r.leader = member
}

// follower is the first member (by name) that is not the leader.
func (r *etcdRun) follower() string {
	for _, m := range r.members {
		if m != r.leader {
			return m
		}
	}
	Fail("no follower")
	return ""
}

// majority is ⌊n/2⌋+1 members, the leader first.
func (r *etcdRun) majority() []string {
	out := []string{r.leader}
	for _, m := range r.members {
		if len(out) < len(r.members)/2+1 && m != r.leader {
			out = append(out, m)
		}
	}
	return out
}

func (r *etcdRun) inject(f fault.Fault) {
	r.injected = append(r.injected, r.injectAside(f))
}

// injectAside injects f like inject but leaves it out of recover(): the caller
// recovers it when its own moment comes. Its Recover is registered with DeferCleanup
// first all the same, so a failing spec still undoes it.
func (r *etcdRun) injectAside(f fault.Fault) *fault.Injected {
	injected, err := r.in.Injector.Prepare(f)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(injected.Recover) // before Inject: a failing spec still recovers
	By(fmt.Sprintf("injecting %s", f.Record()))
	at := r.obs.mark("inject " + f.Record().String())
	if r.injectAt == 0 {
		r.injectAt = at
	}
	Expect(injected.Inject(r.ctx)).To(Succeed())
	return injected
}

func (r *etcdRun) hold(d time.Duration) { holdFault(r.ctx, d) }

func (r *etcdRun) recover() {
	By("recovering")
	// The fault may end anywhere inside its Recover (a container starts, rules are
	// deleted one by one): recovering marks the last moment it surely held.
	r.recoveringAt = r.obs.mark("recovering")
	for _, i := range r.injected {
		Expect(i.Recover(r.ctx)).To(Succeed())
	}
	r.recoveredAt = r.obs.mark("recover")
}

// allUnreachable waits until every named member is down and returns when the last one
// was (on the recorder's clock): from then on there is no quorum. Down means it does not
// answer *and* its process is gone: a member too busy to answer within the probe's
// timeout still commits writes, and counting those as a minority's would be a false
// split brain.
func (r *etcdRun) allUnreachable(members []string) time.Duration {
	access, err := r.in.Provider.Etcd(r.ctx)
	Expect(err).NotTo(HaveOccurred())
	Eventually(func(ctx context.Context) []string {
		var up []string
		for _, m := range members {
			if r.answers(ctx, access.Members[m]) || r.etcdProcessRuns(ctx, m) {
				up = append(up, m)
			}
		}
		return up
	}).WithContext(r.ctx).WithTimeout(r.in.Spec.Waits.ComponentRestart.Duration).WithPolling(sampleEvery).
		Should(BeEmpty(), "the stopped members stop answering and their etcd processes end")
	return r.obs.mark("majority down")
}

// answers reports whether the member at endpoint answers a status request within 1 s.
func (r *etcdRun) answers(ctx context.Context, endpoint string) bool {
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := r.obs.statusClients[endpoint].Status(sctx)
	return err == nil
}

// status asks one member for its status, bounded by the client timeout: a restarted
// member accepts connections before it serves (it waits for a quorum to publish itself),
// and an unbounded call to it blocked the whole rejoin check past its bound.
func (r *etcdRun) status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	sctx, cancel := context.WithTimeout(ctx, kvOpTimeout)
	defer cancel()
	return r.obs.statusClients[endpoint].Status(sctx)
}

// etcdProcessRuns reports whether an etcd process runs in the member's container (a
// control-plane node for stacked etcd). A container that is not running runs none. It
// has its own timeout: a member that stopped answering clients may still be shutting
// down and replicating (a stopping leader hands its leadership over first), and a
// check that timed out must not count as "gone".
func (r *etcdRun) etcdProcessRuns(ctx context.Context, member string) bool {
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := r.in.Provider.Exec(ectx, member, nil, "sh", "-c", "if pgrep -x etcd >/dev/null; then echo running; fi")
	if err != nil {
		// a stopped container (external etcd) has no process; any other error is unknown,
		// which counts as running
		return !strings.Contains(err.Error(), "not running") && !strings.Contains(err.Error(), "is not running")
	}
	return strings.TrimSpace(string(out)) == "running"
}

// expectRejoined waits until member answers again and its applied index has caught up
// with the leader's index at the time it was recovered; the time it took is measured.
func (r *etcdRun) expectRejoined(member, role string) {
	access, err := r.in.Provider.Etcd(r.ctx)
	Expect(err).NotTo(HaveOccurred())
	bound := r.in.Spec.Waits.ComponentRestart.Duration
	var target uint64
	Eventually(func(ctx context.Context) error {
		if target == 0 { // the leader's index at recovery, once a leader answers
			// Any member may lead, the restarted one too: a crashed leader the kubelet
			// restarts at once can win the next election (raft only elects a member
			// whose log is up to date), and in a one-member cluster it is the only one.
			for _, url := range access.Members {
				if st, err := r.status(ctx, url); err == nil && st.Leader == st.Header.MemberId {
					target = st.RaftIndex
				}
			}
			if target == 0 {
				return fmt.Errorf("no leader answers yet")
			}
		}
		st, err := r.status(ctx, access.Members[member])
		if err != nil {
			return err
		}
		if st.RaftAppliedIndex < target {
			return fmt.Errorf("applied index %d behind the leader's %d", st.RaftAppliedIndex, target)
		}
		return nil
	}).WithContext(r.ctx).WithTimeout(bound).WithPolling(sampleEvery).Should(Succeed(),
		"etcd member %s rejoins and catches up within waits.componentRestart (%s)", member, bound)
	at := r.obs.mark("rejoined " + member)
	took := at - r.recoveredAt
	// Named by its role, not its node, so trials and certification sides line up.
	AddReportEntry("measured: etcd "+role, member)
	measure("etcd "+role+" rejoined and caught up after recover", took, bound, "waits.componentRestart")
	Expect(took).To(BeNumerically("<=", bound), "etcd member %s rejoined and caught up %s after recover; bound %s = waits.componentRestart", member, took.Round(100*time.Millisecond), bound)
}

func (r *etcdRun) end() probe.Timeline {
	// Healthy again: every member back is not enough, the API servers must pass their
	// own etcd checks and be back in the LB before the next spec.
	// The same patience as before the fault (waits.clusterReady): this is the
	// environment's readiness, not a guarantee with a bound (the rejoin is measured above).
	err := topology.NewGate(r.in.Spec, r.in.Provider).Wait(r.ctx, r.in.Spec.Waits.ClusterReady.Duration, r.in.Spec.Waits.Poll.Duration, progress)
	Expect(err).NotTo(HaveOccurred(), "the cluster did not pass its readiness gate within waits.clusterReady after the etcd fault was recovered")
	tl, h := r.obs.end(r.in.ArtifactsDir)
	r.history = h
	return tl
}

// judgeMinorityFault: writes kept flowing (the longest gap is bounded) and nothing
// acknowledged was lost.
func (r *etcdRun) judgeMinorityFault(what string) {
	if r.history.Operations == nil {
		r.end()
	}
	bound := topology.EtcdWriteGapBound(kvOpTimeout)
	gap, at := r.history.MaxAckGap(r.injectAt, r.recoveredAt)
	acked, failed := r.history.PutsIn(r.injectAt, r.recoveredAt)
	AddReportEntry("measured: etcd "+what+": writes during the fault", fmt.Sprintf("%d acknowledged, %d failed", acked, failed))
	measure("etcd "+what+": longest time without an acknowledged write", gap, bound, "election bound 4 s + client timeout "+kvOpTimeout.String())
	Expect(gap).To(BeNumerically("<=", bound),
		"no write was acknowledged for %s from %s on the timeline; bound %s = election bound %s + client timeout %s",
		gap.Round(10*time.Millisecond), at.Round(10*time.Millisecond), bound, topology.EtcdElectionBound(), kvOpTimeout)
	r.judgeNoLossAndLinearizable(what)
}

// judgeNoLossAndLinearizable: every acknowledged write is there, and the history of the
// shared keys is linearizable.
func (r *etcdRun) judgeNoLossAndLinearizable(what string) {
	if r.history.Operations == nil {
		r.end()
	}
	acked := len(r.history.Acknowledged())
	missing, err := probe.MissingWrites(r.ctx, r.obs.etcd, r.obs.prefix, r.history)
	Expect(err).NotTo(HaveOccurred(), "read back the acknowledged writes")
	AddReportEntry("measured: etcd "+what+": acknowledged writes read back", fmt.Sprintf("%d of %d", acked-len(missing), acked))
	Expect(missing).To(BeEmpty(), "%d of %d acknowledged writes are missing after the fault", len(missing), acked)
	viz := filepath.Join(r.in.ArtifactsDir, "linearizability", what+".html")
	result, err := probe.CheckLinearizable(r.history, time.Minute, viz)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("measured: etcd "+what+": linearizability", string(result))
	Expect(result).To(Equal(porcupine.Ok), "the etcd history is not linearizable (%s); visualization in %s", result, viz)
}

// newLeaderAt is the first time after from when a member other than old reports a
// leader other than old.
func newLeaderAt(tl probe.Timeline, from time.Duration, old string) (time.Duration, bool) {
	first, found := time.Duration(0), false
	for series := range tl.Series {
		if len(series) <= len(prefixEtcd) || series[:len(prefixEtcd)] != prefixEtcd || series[len(prefixEtcd):] == old {
			continue
		}
		at, ok := tl.FirstAfter(series, from, func(s probe.Sample) bool {
			l := etcdField(s.Value, "leader")
			return s.OK && l != "" && l != "none" && l != old
		})
		if ok && (!found || at < first) {
			first, found = at, true
		}
	}
	return first, found
}

// firstAckAfter is when the first write called at or after from was acknowledged.
func firstAckAfter(h probe.KVHistory, from time.Duration) (time.Duration, bool) {
	for _, op := range h.Acknowledged() {
		if op.Call >= from {
			return op.Return, true
		}
	}
	return 0, false
}
