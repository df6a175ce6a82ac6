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
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// EtcdToleranceSpecInput is what EtcdToleranceSpec needs.
type EtcdToleranceSpecInput struct {
	Spec         topology.Spec
	Provider     cluster.Provider
	Injector     *fault.Injector
	ArtifactsDir string
	// DataPlane is the data-plane workload probed during the fault (nil: none).
	DataPlane *DataPlane
}

func (in EtcdToleranceSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "EtcdToleranceSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "EtcdToleranceSpecInput.Injector is required")
	Expect(in.ArtifactsDir).NotTo(BeEmpty(), "EtcdToleranceSpecInput.ArtifactsDir is required")
}

// EtcdToleranceSpec asserts etcd's quorum guarantee while a writer and a reader run
// against every member: with f ≤ ⌊(n−1)/2⌋ members down, writes keep being
// acknowledged (the longest gap is bounded by the election and the client's timeout), a
// crashed leader is replaced by a leader of a newer term within the election bound, and
// the member rejoins and catches up; with a majority down, no write is acknowledged
// while it is provably down (safely unavailable) and service returns within a bound
// after restore. In every case no acknowledged write is lost and the history is
// linearizable (porcupine).
func EtcdToleranceSpec(inputGetter func() EtcdToleranceSpecInput) {
	It("keeps writes acknowledged and loses none when a follower member is stopped", Label("etcd-follower"), func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		run := startEtcdRun(ctx, in)
		if len(run.members) < 3 {
			Skip("a follower can only be stopped with 3 or more members")
		}
		target := run.follower()
		f, err := fault.NewEtcdMemberStop(in.Provider, target, in.Spec.Etcd.Mode, run.bounds.EtcdGracefulStop().Value)
		Expect(err).NotTo(HaveOccurred())
		run.inject(f)
		bound, why := effectBoundOf(f)
		run.awaitEffect(bound, why)
		// The fault lasts twice the write-gap bound: long enough for a stall to show. It
		// is a fault duration, not a wait for a condition.
		run.hold(2 * run.bounds.EtcdWriteGap(kvOpTimeout).Value)
		run.recover()
		run.expectRejoined(target, "stopped follower", run.recoveredAt)
		tl := run.end()
		expectJudgement(judgeMemberDown(tl, target, run.window(bound)))
		run.expectEffectHeld(tl, bound)
		judging()
		run.judgeMinorityFault("follower-stopped")
		run.expectCommonGuaranteesAndRecovered()
	})

	It("elects a new leader and loses no write when the leader member crashes", Label("etcd-leader-crash"), func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		run := startEtcdRun(ctx, in)
		old := run.leader
		f, err := fault.NewEtcdMemberCrash(in.Provider, old, in.Spec.Etcd.Mode)
		Expect(err).NotTo(HaveOccurred())
		run.inject(f)
		// Proven by the process: the running etcd is not the one the kill was sent to (the
		// kubelet may restart it before a single status request fails).
		run.awaitEffect(signalEffectBound, "a SIGKILL acts at once")
		// A crash is over when the kill is: the rejoin counts from it, and is waited
		// for before the hold (which only keeps the traffic observed for the write gap).
		run.expectRejoined(old, "crashed leader", run.injectAt)
		run.hold(2 * run.bounds.EtcdWriteGap(kvOpTimeout).Value)
		run.recover()
		tl := run.end()
		expectJudgement(judgeMemberCrashed(tl, old, run.window(signalEffectBound), true))
		judging()
		AddReportEntry("measured: etcd leader crash: old leader", old)
		// Any member may win the next election, the crashed one too once restarted: the
		// guarantee is a leader in a newer term, within the bound, from the kill.
		expectJudgement(judgeNewLeader(tl, run.injectAt, run.bounds.EtcdElection()))
		run.judgeMinorityFault("leader-crashed")
		run.expectCommonGuaranteesAndRecovered()
	})

	It("is safely unavailable with a majority of members stopped and recovers after restore", Label("etcd-majority"), func(ctx SpecContext) {
		in := inputGetter()
		in.validate()
		run := startEtcdRun(ctx, in)
		majority := run.majority()
		By(fmt.Sprintf("stopping %d of %d members: %v", len(majority), len(run.members), majority))
		var faults []fault.Fault
		for _, m := range majority {
			f, err := fault.NewEtcdMemberStop(in.Provider, m, in.Spec.Etcd.Mode, run.bounds.EtcdGracefulStop().Value)
			Expect(err).NotTo(HaveOccurred())
			faults = append(faults, f)
		}
		run.inject(faults...)
		bound, why := effectBoundOf(faults[0])
		run.awaitEffect(bound, why)
		run.hold(2 * run.bounds.EtcdWriteGap(kvOpTimeout).Value)
		run.recover()
		var roles []string
		for i := range majority {
			roles = append(roles, fmt.Sprintf("stopped member %d of %d", i+1, len(majority)))
		}
		run.expectAllRejoined(majority, roles, run.recoveredAt)
		tl := run.end()
		// From the recording: when the last of them was provably down (a failed request,
		// and no answer from it until recovery began).
		down := judgeMajorityDown(tl, majority, run.window(bound))
		expectJudgement(down)
		run.expectEffectHeld(tl, bound)
		judging()
		expectJudgement(judgeSafelyUnavailable(run.history, down.At, run.recoveringAt, len(majority), len(run.members)))
		run.judgeNoLossAndLinearizable("majority-stopped")
		run.expectRecovered(judgeWritesAfterRestore(run.history, run.recoveredAt))
		run.expectCommonGuaranteesAndRecovered()
	})
}

func (in EtcdToleranceSpecInput) env() faultEnv {
	return faultEnv{Spec: in.Spec, Provider: in.Provider, Injector: in.Injector, ArtifactsDir: in.ArtifactsDir, DataPlane: in.DataPlane}
}

// etcdRun is one etcd fault run: the pipeline with etcd traffic, and the members.
type etcdRun struct {
	*faultRun
	in          EtcdToleranceSpecInput
	members     []string // member names; each is also its node's name
	leader      string
	history     probe.KVHistory
	isolatedKey string // a write refused by an isolated member; must never appear
}

func startEtcdRun(ctx context.Context, in EtcdToleranceSpecInput) *etcdRun {
	run := &etcdRun{faultRun: startFaultRun(ctx, in.env(), observeInput{Traffic: true}), in: in}
	for _, name := range run.obs.Members() {
		run.members = append(run.members, name)
	}
	slices.Sort(run.members)
	run.leader = run.currentLeader()
	By("checking that writes are acknowledged before the fault (leader " + run.leader + ")")
	Eventually(func(ctx context.Context) (int64, error) {
		resp, err := run.obs.Etcd().Get(ctx, run.obs.TrafficPrefix()+"w/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return 0, err
		}
		return resp.Count, nil
	}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(sampleEvery).Should(BeNumerically(">", 10))
	return run
}

func (r *etcdRun) currentLeader() string {
	st, err := r.obs.Etcd().Status(r.ctx, r.obs.Etcd().Endpoints()[0])
	Expect(err).NotTo(HaveOccurred(), "etcd status")
	name, ok := r.obs.Members()[st.Leader]
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
	for mid, name := range r.obs.Members() {
		if name == member {
			id = mid
		}
	}
	Expect(id).NotTo(BeZero(), "%s is not an etcd member", member)
	access, err := r.env.Provider.Etcd(r.ctx)
	Expect(err).NotTo(HaveOccurred())
	c, err := access.Client(access.Members[r.leader]) // only the leader can hand over
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	election := r.bounds.EtcdElection().Value
	mctx, cancel := context.WithTimeout(r.ctx, election)
	defer cancel()
	_, err = c.MoveLeader(mctx, id)
	Expect(err).NotTo(HaveOccurred(), "move the etcd leadership to %s", member)
	Eventually(func(ctx context.Context) []string {
		var others []string
		for _, url := range access.Members {
			st, err := r.status(ctx, url)
			if err != nil || r.obs.Members()[st.Leader] != member {
				others = append(others, url)
			}
		}
		return others
	}).WithContext(r.ctx).WithTimeout(election).WithPolling(sampleEvery).
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

// status asks one member for its status, bounded by the client timeout: a restarted
// member accepts connections before it serves (it waits for a quorum to publish itself),
// and an unbounded call to it blocked the whole rejoin check past its bound.
func (r *etcdRun) status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	sctx, cancel := context.WithTimeout(ctx, kvOpTimeout)
	defer cancel()
	return r.obs.StatusClient(endpoint).Status(sctx)
}

// expectRejoined waits until member answers again and its applied index has caught up
// with the leader's index at the time it was recovered; the time it took from since
// (the recovery, or the crash) is measured. A member that does not rejoin within
// waits.componentRestart did not recover (reported after the guarantees).
func (r *etcdRun) expectRejoined(member, role string, since time.Duration) {
	r.expectAllRejoined([]string{member}, []string{role}, since)
}

// expectAllRejoined is expectRejoined for several members at once, each checked on
// every poll and timed when it first caught up: waited for one after the other, a
// member back while the harness still waited for another was measured as late as that
// wait (a stacked majority stop recorded 183 s for a member back after 55 s).
func (r *etcdRun) expectAllRejoined(members, roles []string, since time.Duration) {
	access, err := r.env.Provider.Etcd(r.ctx)
	Expect(err).NotTo(HaveOccurred())
	bound := r.env.Spec.Waits.ComponentRestart.Duration
	var target uint64
	caughtUp := map[string]bool{}
	By(fmt.Sprintf("waiting for etcd members %v to rejoin and catch up (bound %s)", members, bound))
	err = pollUntil(r.ctx, bound, sampleEvery, func(ctx context.Context) error {
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
		var behind []string
		for i, member := range members {
			if caughtUp[member] {
				continue
			}
			if err := r.caughtUp(ctx, access.Members[member], target); err != nil {
				behind = append(behind, fmt.Sprintf("%s: %v", member, err))
				continue
			}
			caughtUp[member] = true
			at := r.obs.rec.Mark(probe.EventHealthy, fmt.Sprintf("etcd member %s rejoined and caught up", member))
			// Named by its role, not its node, so trials and certification sides line up.
			AddReportEntry("measured: etcd "+roles[i], member)
			measureUnboundedWithHistory("etcd "+roles[i]+" rejoined and caught up after "+sinceWhat(since, r.recoveredAt), at-since, restartNotBounded, r.restartHistorySpread(since))
		}
		if len(behind) > 0 {
			return fmt.Errorf("%s", strings.Join(behind, "; "))
		}
		return nil
	})
	if err != nil {
		r.unhealthy = append(r.unhealthy, fmt.Sprintf("etcd members rejoined and caught up within waits.componentRestart (%s): %v", bound, err))
	}
}

// caughtUp is nil when the member at endpoint answers with an applied index at target.
func (r *etcdRun) caughtUp(ctx context.Context, endpoint string, target uint64) error {
	st, err := r.status(ctx, endpoint)
	if err != nil {
		return err
	}
	if st.RaftAppliedIndex < target {
		return fmt.Errorf("applied index %d behind the leader's %d", st.RaftAppliedIndex, target)
	}
	return nil
}

// restartNotBounded says why a member's rejoin and the service after a majority restore
// are measured without a pass/fail bound.
const restartNotBounded = "no derived bound: the kubelet (Docker, for external etcd) restarts the member at once, unless an earlier restart within 10 minutes left its container in crash-loop back-off (10 s, doubling, up to 5 min), kept in the kubelet's memory; waited for up to waits.componentRestart, then 'did not recover'"

// restartHistorySpread is how much the kubelet's crash-loop back-off may add to a rejoin
// counted from since: after a crash of a stacked member its kubelet restarts it at once,
// unless an earlier restart within 10 minutes left the container in back-off — up to
// timeouts.maxContainerRestartPeriod, decided by what ran before, not by the version
// under test (reports.Measurement.HistorySpread). A member stopped and started by its
// manifest, or external (Docker restarts it), gets none.
func (r *etcdRun) restartHistorySpread(since time.Duration) time.Duration {
	if since == r.recoveredAt || r.env.Spec.Etcd.Mode != topology.EtcdStacked {
		return 0
	}
	return r.env.Spec.ResolvedTimeouts().MaxContainerRestartPeriod.Duration
}

// sinceWhat names the instant a rejoin is counted from.
func sinceWhat(since, recovered time.Duration) string {
	if since == recovered {
		return "recover"
	}
	return "the crash"
}

// end passes the readiness gate again (every member back is not enough: the API
// servers must pass their own etcd checks and be back in the LB before the next spec),
// stops the recording and keeps the etcd history.
func (r *etcdRun) end() probe.Timeline {
	r.awaitReady()
	tl, h := r.faultRun.end()
	r.history = h
	return tl
}

// judgeMinorityFault: writes kept flowing (the longest gap is bounded) and nothing
// acknowledged was lost.
func (r *etcdRun) judgeMinorityFault(what string) {
	if r.history.Operations == nil {
		r.end()
	}
	acked, failed := r.history.PutsIn(r.injectAt, r.recoveredAt)
	AddReportEntry("measured: etcd "+what+": writes during the fault", fmt.Sprintf("%d acknowledged, %d failed", acked, failed))
	expectJudgement(judgeWriteGap(r.history, "etcd "+what, r.injectAt, r.recoveredAt, r.bounds.EtcdWriteGap(kvOpTimeout)))
	r.judgeNoLossAndLinearizable(what)
}

// judgeNoLossAndLinearizable: every acknowledged write is there, and the history of the
// shared keys is linearizable.
func (r *etcdRun) judgeNoLossAndLinearizable(what string) {
	if r.history.Operations == nil {
		r.end()
	}
	acked := len(r.history.Acknowledged())
	missing, err := probe.MissingWrites(r.ctx, r.obs.Etcd(), r.obs.TrafficPrefix(), r.history)
	Expect(err).NotTo(HaveOccurred(), "read back the acknowledged writes")
	AddReportEntry("measured: etcd "+what+": acknowledged writes read back", fmt.Sprintf("%d of %d", acked-len(missing), acked))
	Expect(missing).To(BeEmpty(), "%d of %d acknowledged writes are missing after the fault", len(missing), acked)
	viz := filepath.Join(r.env.ArtifactsDir, "linearizability", what+".html")
	result, err := probe.CheckLinearizable(r.history, time.Minute, viz)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("measured: etcd "+what+": linearizability", string(result))
	Expect(result).To(Equal(porcupine.Ok), "the etcd history is not linearizable (%s); visualization in %s", result, viz)
}

// judgeWritesAfterRestore: service after a majority restore has no derived bound (the
// members' restart does not have one), so the time until a write is acknowledged again
// is measured, and a cluster that took no write again before the recording ended did
// not recover.
func judgeWritesAfterRestore(h probe.KVHistory, recovered time.Duration) judgement {
	back, ok := firstAckAfter(h, recovered)
	if !ok {
		return judged(verdict.DidNotRecover, "no write was acknowledged after the members were restored")
	}
	return passed(back, reports.Measurement{Name: "etcd majority restored: writes acknowledged again after",
		Value: (back - recovered).Seconds(), Unit: "s", Unbounded: true, Formula: restartNotBounded})
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
