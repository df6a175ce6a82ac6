package suites

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/verdict"
)

// The judges: pure functions of a recording (timeline, etcd history) and the instants
// the fault run marked, in the manner of etcd robustness's validate package. They hold
// no Ginkgo and touch no cluster, so recorded runs — ../shared/recordings, copied to
// testdata — are judged again by unit tests exactly as the live spec judged them.

// judgement is a judge's conclusion: what it measured and, when something is wrong,
// the verdict and why.
type judgement struct {
	Verdict  verdict.Verdict
	Reason   string
	Measured []reports.Measurement
	Notes    []reports.Note // evidence in prose (counts, nodes)
	// At is the instant the judge found (an effect began, a leader was elected).
	At time.Duration
}

func passed(at time.Duration, measured ...reports.Measurement) judgement {
	return judgement{Verdict: verdict.Passed, At: at, Measured: measured}
}

func judged(v verdict.Verdict, format string, args ...any) judgement {
	return judgement{Verdict: v, Reason: fmt.Sprintf(format, args...)}
}

// boundMeasurement is a measured time against a typed upper bound.
func boundMeasurement(name string, value time.Duration, b topology.Bound) reports.Measurement {
	return reports.Measurement{Name: name, Value: value.Seconds(), Unit: "s", Bound: b.Value.Seconds(), Formula: b.FormulaText(), Inputs: b.Inputs}
}

// effectWindow is where a fault must be seen in effect: from the inject (within the
// effect bound) until recovery began.
type effectWindow struct {
	Inject, Until time.Duration
	Bound         time.Duration // how long after Inject the effect must show
}

// minSamples is the fewest samples a judged window of length d must hold at cadence
// every: half of those the recorder starts in it. Fewer means the recorder was starved
// and the window says nothing.
func minSamples(d, every time.Duration) int {
	return max(1, int(d/every)/2)
}

// judgeMemberDown: the etcd member stopped answering within the bound after Inject and
// no answer from it came before recovery began. Its result's At is when it was
// provably down: not before the first failed status request after which it never
// answered until recovery (a request sent before that and answered after recovery
// began proves nothing either way), and not before the fault was seen in effect — its
// process gone. A request that timed out is no proof alone: a stopping member too slow
// to answer still replicates (a recording showed writes committed for 7 s after its
// status requests began to time out).
func judgeMemberDown(tl probe.Timeline, member string, w effectWindow) judgement {
	series := prefixEtcd + member
	samples := tl.Series[series]
	down, found := time.Duration(0), false
	for _, s := range samples {
		if s.At < w.Inject || s.Answered() >= w.Until {
			continue
		}
		switch {
		case !s.OK && !found:
			down, found = s.Answered(), true
		case s.OK && found:
			return judged(verdict.FaultNotInEffect, "etcd member %s answered again at %s (request sent at %s) while the fault held (until %s): it was not down for the whole hold",
				member, secs(s.Answered()), secs(s.At), secs(w.Until))
		}
	}
	if !found {
		return judged(verdict.FaultNotInEffect, "etcd member %s answered every status request from the inject at %s until recovery began at %s (%d samples): the fault did not take effect",
			member, secs(w.Inject), secs(w.Until), len(inWindow(samples, w.Inject, w.Until)))
	}
	if down-w.Inject > w.Bound {
		return judged(verdict.FaultNotInEffect, "etcd member %s stopped answering only %s after the inject; the fault must show within %s",
			member, secs(down-w.Inject), w.Bound)
	}
	inEffect, ok := tl.EventAt(probe.EventInEffect)
	if !ok || inEffect >= w.Until {
		return judged(verdict.FaultNotInEffect, "etcd member %s stopped answering at %s, but its process was never seen gone before recovery began", member, secs(down))
	}
	down = max(down, inEffect)
	if n, need := len(inWindow(samples, down, w.Until)), minSamples(w.Until-down, sampleEvery); n < need {
		return judged(verdict.FaultNotInEffect, "only %d status samples of etcd member %s while it was down (%s – %s), %d needed: the recorder was starved, nothing proves it stayed down",
			n, member, secs(down), secs(w.Until), need)
	}
	return passed(down)
}

// judgeMemberCrashed: the crash of member is proven by the recording itself — a status
// request to it failed after the kill, or a member answered in a raft term newer than
// the last one seen before it (only a lost leader starts a new term) — or by the
// process check (restartProven: the running etcd is not the process the kill was sent
// to, by its pid and kernel start time). A kill
// without any of these did nothing.
func judgeMemberCrashed(tl probe.Timeline, member string, w effectWindow, restartProven bool) judgement {
	if restartProven {
		return passed(w.Inject)
	}
	if s, ok := tl.FirstAnswerAfter(prefixEtcd+member, w.Inject, func(s probe.Sample) bool { return !s.OK }); ok && s.Answered() < w.Until {
		return passed(s.Answered())
	}
	before := termBefore(tl, w.Inject)
	if at, _, ok := firstNewerTerm(tl, before, w.Inject, false); ok && at < w.Until {
		return passed(at)
	}
	return judged(verdict.FaultNotInEffect, "nothing shows that etcd member %s crashed: it answered every status request after the kill at %s, no member entered a term after %d, and its process was not seen restarted",
		member, secs(w.Inject), before)
}

// judgeNewLeader: after the leader crashed at crashAt, some member — the restarted one
// too, raft elects whichever member's log is up to date — answers with a leader in a
// term newer than the last one before the crash, within the election bound. The
// instant is the first such *answer*: the first moment an observer knew.
func judgeNewLeader(tl probe.Timeline, crashAt time.Duration, bound topology.Bound) judgement {
	before := termBefore(tl, crashAt)
	at, term, ok := firstNewerTerm(tl, before, crashAt, true)
	if !ok {
		return judged(verdict.GuaranteeBroken, "no etcd member answered with a leader in a term after %d once the leader crashed at %s: no new leader was elected (bound %s)",
			before, secs(crashAt), bound)
	}
	took := at - crashAt
	m := boundMeasurement("etcd leader crash: new leader elected after", took, bound)
	if took > bound.Value {
		j := judged(verdict.GuaranteeBroken, "a leader of term %d was first seen %s after the crash; bound %s", term, secs(took), bound)
		j.Measured = []reports.Measurement{m}
		return j
	}
	return passed(at, m)
}

// judgeWriteGap: between from and to, writes kept being acknowledged: no gap between two
// acknowledgements (or the window's ends) longer than the bound.
func judgeWriteGap(h probe.KVHistory, what string, from, to time.Duration, bound topology.Bound) judgement {
	gap, at := h.MaxAckGap(from, to)
	m := boundMeasurement(what+": longest time without an acknowledged write", gap, bound)
	if gap > bound.Value {
		j := judged(verdict.GuaranteeBroken, "no write was acknowledged for %s from %s on the timeline; bound %s", secs(gap), secs(at), bound)
		j.Measured = []reports.Measurement{m}
		return j
	}
	return passed(at, m)
}

// termBefore is the highest raft term any member answered with before at.
func termBefore(tl probe.Timeline, at time.Duration) uint64 {
	var term uint64
	for _, name := range tl.SeriesWithPrefix(prefixEtcd) {
		for _, s := range tl.Series[name] {
			if s.OK && s.Answered() < at {
				term = max(term, etcdTerm(s.Value))
			}
		}
	}
	return term
}

// firstNewerTerm is the first answer (sent at or after from) of any member with a term
// after term; withLeader asks for one that also names a leader.
func firstNewerTerm(tl probe.Timeline, term uint64, from time.Duration, withLeader bool) (time.Duration, uint64, bool) {
	first, firstTerm, found := time.Duration(0), uint64(0), false
	for _, name := range tl.SeriesWithPrefix(prefixEtcd) {
		s, ok := tl.FirstAnswerAfter(name, from, func(s probe.Sample) bool {
			leader := etcdField(s.Value, "leader")
			return s.OK && etcdTerm(s.Value) > term && (!withLeader || (leader != "" && leader != "none"))
		})
		if ok && (!found || s.Answered() < first) {
			first, firstTerm, found = s.Answered(), etcdTerm(s.Value), true
		}
	}
	return first, firstTerm, found
}

func etcdTerm(value string) uint64 {
	t, _ := strconv.ParseUint(etcdField(value, "term"), 10, 64)
	return t
}

// judgeMajorityDown: every member of the majority was provably down, each within the
// bound after its own inject; the result's At is when the last of them was, from which
// on there is no quorum until recovery.
func judgeMajorityDown(tl probe.Timeline, majority []string, w effectWindow) judgement {
	var last time.Duration
	for _, m := range majority {
		mw := w
		if at, ok := tl.TargetEventAt(probe.EventInject, m); ok {
			mw.Inject = at
		}
		j := judgeMemberDown(tl, m, mw)
		if j.Verdict != verdict.Passed {
			return j
		}
		last = max(last, j.At)
	}
	return passed(last)
}

// judgeSafelyUnavailable: no write was acknowledged while a majority was provably down
// (from downAt until recovery began at until). A write sent during the outage and
// acknowledged after recovery began was committed by the restored quorum: not a
// minority's. At least one write must have been tried in the window.
func judgeSafelyUnavailable(h probe.KVHistory, downAt, until time.Duration, down, members int) judgement {
	var acked []probe.KVOperation
	tried := 0
	for _, o := range h.Operations {
		if o.Kind != "put" || o.Return < downAt || o.Call >= until {
			continue
		}
		tried++
		if o.OK && o.Return < until {
			acked = append(acked, o)
		}
	}
	note := reports.Note{Name: "etcd majority down: writes while down", Value: fmt.Sprintf("%d acknowledged, %d not, of %d tried between %s and %s", len(acked), tried-len(acked), tried, secs(downAt), secs(until))}
	if len(acked) > 0 {
		o := acked[0]
		j := judged(verdict.GuaranteeBroken, "%d writes were acknowledged while %d of %d members were provably down (%s – %s), the first %s sent at %s and acknowledged at %s: a minority committed (split brain)",
			len(acked), down, members, secs(downAt), secs(until), o.Key, secs(o.Call), secs(o.Return))
		j.Notes = []reports.Note{note}
		return j
	}
	if tried == 0 {
		return judged(verdict.EnvironmentNotReady, "no write was tried while the majority was down (%s – %s): the traffic stalled, nothing was judged", secs(downAt), secs(until))
	}
	j := passed(downAt)
	j.Notes = []reports.Note{note}
	return j
}

// judgePartitionInEffect: once the partition had time to act (the bound after it was
// in place), the isolated member's committed index stood still: a member cut off from
// the majority can commit nothing, whichever side leads. A partition whose rules do
// nothing leaves it committing along with the others. (Whether the majority elected a
// leader is a guarantee, judged apart: a partition in effect where it did not is a
// broken guarantee, never "not in effect".)
func judgePartitionInEffect(tl probe.Timeline, isolated string, w effectWindow) judgement {
	var first, last probe.Sample
	n := 0
	for _, s := range tl.Series[prefixEtcd+isolated] {
		if !s.OK || s.At < w.Inject+w.Bound || s.Answered() >= w.Until {
			continue
		}
		if n == 0 {
			first = s
		}
		last = s
		n++
	}
	from, to := etcdIndex(first.Value), etcdIndex(last.Value)
	if n >= 2 && to > from {
		return judged(verdict.FaultNotInEffect, "the isolated etcd member %s kept committing while cut off: its committed index went from %d at %s to %d at %s, which takes a quorum it could not have reached",
			isolated, from, secs(first.Answered()), to, secs(last.Answered()))
	}
	return passed(w.Inject)
}

func etcdIndex(value string) uint64 {
	i, _ := strconv.ParseUint(etcdField(value, "index"), 10, 64)
	return i
}

// judgeEffectSeries reads the fault's own effect check: first seen in effect (the check
// the pipeline waited for, event "in effect", or the first passing one the recorder
// polled into series "effect") within the bound after Inject, and never seen out of
// effect (an answer before recovery began) after that, with at least half the checks
// the window had room for. A check that timed out (effectUnknown) proves neither.
func judgeEffectSeries(tl probe.Timeline, series string, w effectWindow, every time.Duration) judgement {
	samples := tl.Series[series]
	first := time.Duration(-1)
	if at, ok := tl.EventAt(probe.EventInEffect); ok && at < w.Until {
		first = at
	}
	if s, ok := tl.FirstAnswerAfter(series, w.Inject, func(s probe.Sample) bool { return s.OK }); ok && s.Answered() < w.Until && (first < 0 || s.Answered() < first) {
		first = s.Answered()
	}
	if first < 0 && len(samples) == 0 {
		return judged(verdict.FaultNotInEffect, "the fault's effect check (%s) was never recorded: nothing shows the fault took effect", series)
	}
	if first < 0 {
		last := samples[len(samples)-1]
		return judged(verdict.FaultNotInEffect, "the fault was never seen in effect between the inject at %s and recovery at %s (%d checks; last: %s)",
			secs(w.Inject), secs(w.Until), len(samples), last.Error)
	}
	if first-w.Inject > w.Bound {
		return judged(verdict.FaultNotInEffect, "the fault was first seen in effect %s after the inject; it must show within %s", secs(first-w.Inject), w.Bound)
	}
	for _, s := range samples {
		if s.At >= first && s.Answered() < w.Until && !s.OK && s.Value != effectUnknown {
			return judged(verdict.FaultNotInEffect, "the fault was out of effect at %s, before recovery began at %s: %s", secs(s.Answered()), secs(w.Until), s.Error)
		}
	}
	if n, need := len(inWindow(samples, first, w.Until)), int((w.Until-first)/every)/2; n < need {
		return judged(verdict.FaultNotInEffect, "only %d effect checks while the fault held (%s – %s), %d needed: nothing proves it held throughout",
			n, secs(first), secs(w.Until), need)
	}
	return passed(first)
}

// inWindow lists the samples sent in [from, to).
func inWindow(samples []probe.Sample, from, to time.Duration) []probe.Sample {
	var out []probe.Sample
	for _, s := range samples {
		if s.At >= from && s.At < to {
			out = append(out, s)
		}
	}
	return out
}

// secs writes an instant or duration of the timeline as "1.23 s".
func secs(d time.Duration) string {
	return strings.TrimSuffix(strconv.FormatFloat(d.Seconds(), 'f', 2, 64), ".00") + " s"
}

// judgeLBRerouting: every target stopped answering its direct probe while the fault
// held; clients through the LB (new connections) failed for at most the detection
// window after the last of them did, and not at all after it; the LB marked each target
// DOWN within the window ("marked DOWN at" is the first answer that showed it,
// "stopped at" the first failed direct request's start: the measure can only read long).
// Timeouts on slow servers in rotation are not the LB's (withoutSlowServerTimeouts).
func judgeLBRerouting(tl probe.Timeline, targets []string, inject, until time.Duration, detection topology.Bound, what string) judgement {
	window := detection.Value
	stopped := map[string]time.Duration{}
	var effective time.Duration
	for _, target := range targets {
		s, ok := tl.FirstSentAfter(prefixAPIServer+target, inject, func(s probe.Sample) bool { return !s.OK })
		if !ok || s.Answered() >= until {
			return judged(verdict.FaultNotInEffect, "the direct probe of %s never failed between the inject and recovery: the API server kept answering", target)
		}
		stopped[target] = s.At
		effective = max(effective, s.At)
	}
	tl, slow := withoutSlowServerTimeouts(tl, targets, inject, until)
	during := tl.Between(seriesLB, inject, until)
	after := tl.Between(seriesLB, effective+window, until)
	if need := minSamples(until-effective-window, sampleEvery); after.Samples < need {
		return judged(verdict.FaultNotInEffect, "only %d requests through the LB between the detection window's end (%s) and recovery (%s), %d needed: the fault did not hold long enough after it took effect",
			after.Samples, secs(effective+window), secs(until), need)
	}
	j := passed(effective, boundMeasurement(what+": LB failure span", during.FailureSpan(), detection))
	j.Notes = append(j.Notes, reports.Note{Name: what + ": failed requests through the LB",
		Value: fmt.Sprintf("%d of %d while the fault lasted (counted; the bound is on their span)", during.Failures, during.Samples)})
	if slow > 0 {
		j.Notes = append(j.Notes, reports.Note{Name: what + ": requests that timed out on the servers in rotation (not counted)",
			Value: fmt.Sprintf("%d, each sent after the LB had every target out of rotation, while every server in rotation was as slow on its own direct probe: the control plane's capacity on this machine, not the LB's routing", slow)})
	}
	var problems []string
	for i, target := range targets {
		// Named by position, not node, so trials and certification sides line up.
		name := what + ": API server marked DOWN after it stopped answering"
		if len(targets) > 1 {
			name += fmt.Sprintf(" (%d of %d)", i+1, len(targets))
		}
		j.Notes = append(j.Notes, reports.Note{Name: name + ": node", Value: target})
		down, ok := tl.FirstAnswerAfter(prefixBackend+target, inject, func(s probe.Sample) bool { return !s.OK })
		if !ok || down.Answered() >= until {
			j.Notes = append(j.Notes, reports.Note{Name: name, Value: "never, while the fault lasted"})
			problems = append(problems, fmt.Sprintf("the LB never marked %s DOWN while the fault lasted", target))
			continue
		}
		took := down.Answered() - stopped[target]
		j.Measured = append(j.Measured, boundMeasurement(name, took, detection))
		if took > window {
			problems = append(problems, fmt.Sprintf("the LB marked %s DOWN %s after it stopped answering, later than its detection window %s", target, secs(took), window))
		}
	}
	// The clients' view first (a negative control without health checks must fail on
	// the clients), then the LB's own.
	switch {
	case after.Failures > 0:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("%d of %d requests through the load balancer failed more than the detection window (%s) after %s stopped answering",
			after.Failures, after.Samples, window, strings.Join(targets, ", "))
	case during.FailureSpan() > window:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("requests through the load balancer kept failing for %s; bound %s", secs(during.FailureSpan()), detection)
	case len(problems) > 0:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, strings.Join(problems, "; ")
	}
	return j
}

// judgeBackInRotation: once the LB had taken a target out (its first DOWN answer after
// the inject), it took it back in rotation within its rise window
// (topology.Bounds.LBRise) of the target answering /readyz again, else the cluster did
// not recover in time. Counted from the DOWN, not from Recover: a killed API server is
// restarted by its kubelet while the fault still holds. Both instants are answer times:
// the first sample showing the backend UP after the DOWN, and the first good direct
// answer after the target's last failed one before that (a /readyz that flaps restarts
// the clock). A good answer slower than the LB's own check limit (checkLimit:
// LoadBalancerSpec.CheckLimit) counts as failed: HAProxy's check would have failed on
// it too (a restarted API server on a busy machine can answer that slowly). A target the LB took back before its direct probe saw it ready took no
// time; one never taken back before the recording ended did not recover; one never taken
// out is the rerouting judge's finding, not this one's.
func judgeBackInRotation(tl probe.Timeline, targets []string, inject time.Duration, rise topology.Bound, checkLimit time.Duration, what string) judgement {
	j := passed(inject)
	var problems []string
	for i, target := range targets {
		name := what + ": API server back in rotation after it answered /readyz again"
		if len(targets) > 1 {
			name += fmt.Sprintf(" (%d of %d)", i+1, len(targets))
		}
		series := prefixBackend + target
		down, ok := tl.FirstAnswerAfter(series, inject, func(s probe.Sample) bool { return !s.OK })
		if !ok {
			continue
		}
		up, ok := tl.FirstAnswerAfter(series, down.Answered(), func(s probe.Sample) bool { return s.OK })
		if !ok {
			problems = append(problems, fmt.Sprintf("the LB never took %s back in rotation before the recording ended", target))
			continue
		}
		took := max(0, up.Answered()-readyAgainAt(tl.Series[prefixAPIServer+target], down.At, up.Answered(), checkLimit))
		j.Measured = append(j.Measured, boundMeasurement(name, took, rise))
		if took > rise.Value {
			problems = append(problems, fmt.Sprintf("the LB took %s back in rotation %s after it answered /readyz again, later than its rise window %s", target, secs(took), rise))
		}
	}
	if len(problems) > 0 {
		j.Verdict, j.Reason = verdict.DidNotRecover, strings.Join(problems, "; ")
	}
	return j
}

// readyAgainAt is when a server's direct probe answered OK within checkLimit after its
// last failure (or slower answer) between from and until (answer times); until when
// none did before it.
func readyAgainAt(direct []probe.Sample, from, until, checkLimit time.Duration) time.Duration {
	ready := func(s probe.Sample) bool { return s.OK && s.Latency <= checkLimit }
	lastFail := from
	for _, s := range direct {
		if !ready(s) && s.At >= from && s.Answered() < until {
			lastFail = max(lastFail, s.Answered())
		}
	}
	at := until
	for _, s := range direct {
		if ready(s) && s.At >= from && s.Answered() >= lastFail {
			at = min(at, s.Answered())
		}
	}
	return at
}

// withoutSlowServerTimeouts leaves out of the LB series the requests the LB's routing
// cannot have failed, and says how many: a new connection that timed out, sent after the
// LB had shown every target DOWN (so it went to a server in rotation), while every server
// in rotation was itself as slow — a direct probe overlapping the request timed out or
// took at least half the sample timeout. On 2 cores a killed API server's restart by its
// kubelet slowed the other two past the clients' 2 s timeout (CI, 2026-12-01 20:47): that
// is the control plane's capacity here, not the rerouting the bound is about. A request
// the LB sent to a dead or frozen target fails while that target is in rotation, or with
// the servers in rotation answering quickly, and still counts.
func withoutSlowServerTimeouts(tl probe.Timeline, targets []string, inject, until time.Duration) (probe.Timeline, int) {
	var outOfRotation time.Duration
	for _, target := range targets {
		down, ok := tl.FirstAnswerAfter(prefixBackend+target, inject, func(s probe.Sample) bool { return !s.OK })
		if !ok || down.Answered() >= until {
			return tl, 0 // never out of rotation: every failure is the LB's
		}
		outOfRotation = max(outOfRotation, down.Answered())
	}
	inRotation := serversInRotation(tl, targets)
	if len(inRotation) == 0 {
		return tl, 0
	}
	var kept []probe.Sample
	slow := 0
	for _, s := range tl.Series[seriesLB] {
		if !s.OK && s.FailureCause() == probe.CauseTimeout && s.At >= outOfRotation && s.At < until && allSlow(tl, inRotation, s) {
			slow++
			continue
		}
		kept = append(kept, s)
	}
	if slow == 0 {
		return tl, 0
	}
	filtered := tl
	filtered.Series = maps.Clone(tl.Series)
	filtered.Series[seriesLB] = kept
	return filtered, slow
}

// serversInRotation are the API servers with a direct probe that are not targets.
func serversInRotation(tl probe.Timeline, targets []string) []string {
	var out []string
	for name := range tl.Series {
		if server, ok := strings.CutPrefix(name, prefixAPIServer); ok && !slices.Contains(targets, server) {
			out = append(out, server)
		}
	}
	sort.Strings(out)
	return out
}

// allSlow: every one of servers had a direct probe overlapping request s that timed out
// or took at least half the sample timeout.
func allSlow(tl probe.Timeline, servers []string, s probe.Sample) bool {
	for _, server := range servers {
		slow := false
		for _, d := range tl.Series[prefixAPIServer+server] {
			if d.At <= s.Answered() && d.Answered() >= s.At && (d.FailureCause() == probe.CauseTimeout || d.Latency >= sampleTimeout/2) {
				slow = true
				break
			}
		}
		if !slow {
			return false
		}
	}
	return true
}

// judgePartitionLB: clients through the LB stop failing within window after the
// partition (the isolated API server's stale readiness, then the LB's detection) and
// never fail after it until healing began; on a kept-alive connection a request in
// flight to the isolated server fails at its client timeout once the LB cuts it, so
// that window is one client timeout longer. LB failures while the minority rejoins are
// recorded, not judged: healing is a disturbance of its own.
func judgePartitionLB(tl probe.Timeline, target string, inject, healing time.Duration, window topology.Bound, what string) judgement {
	during := tl.Between(seriesLB, inject, healing)
	after := tl.Between(seriesLB, inject+window.Value, healing)
	keepBound := window.Value + sampleTimeout
	keepAfter := tl.Between(seriesLBKeepAlive, inject+keepBound, healing)
	j := passed(inject, boundMeasurement(what+": LB failure span", during.FailureSpan(), window))
	j.Notes = append(j.Notes,
		reports.Note{Name: what + ": failed requests through the LB", Value: fmt.Sprintf("%d of %d (new connections); span %s", during.Failures, during.Samples, secs(during.FailureSpan()))},
		reports.Note{Name: what + ": failed requests on a kept-alive connection after " + keepBound.String(), Value: fmt.Sprintf("%d of %d", keepAfter.Failures, keepAfter.Samples)})
	if rejoined, ok := tl.EventAt(probe.EventHealthy); ok {
		rejoin := tl.Between(seriesLB, healing, rejoined)
		j.Notes = append(j.Notes, reports.Note{Name: what + ": failed requests through the LB while the minority rejoined",
			Value: fmt.Sprintf("%d of %d; span %s", rejoin.Failures, rejoin.Samples, secs(rejoin.FailureSpan()))})
	}
	if need := minSamples(healing-inject-window.Value, sampleEvery); after.Samples < need {
		return judged(verdict.FaultNotInEffect, "only %d requests through the LB between the window's end and healing, %d needed: the partition did not hold long enough", after.Samples, need)
	}
	switch {
	case after.Failures > 0:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("%d of %d requests through the load balancer failed more than %s after %s was partitioned; bound %s (the API server still ready on its last etcd check, then the LB's detection window)",
			after.Failures, after.Samples, window.Value, target, window)
	case keepAfter.Failures > 0:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("%d requests on a kept-alive connection through the LB failed more than %s (= the window + client timeout) after the partition",
			keepAfter.Failures, keepBound)
	}
	return j
}

// judgeEtcdLeaderMoved: a member of the majority answered with a leader other than the
// isolated member within the election bound after the partition.
func judgeEtcdLeaderMoved(tl probe.Timeline, isolated string, inject time.Duration, election topology.Bound, what string) judgement {
	at, ok := newLeaderAt(tl, inject, isolated)
	if !ok {
		return judged(verdict.GuaranteeBroken, "the etcd leader stayed on the isolated member %s", isolated)
	}
	m := boundMeasurement(what+": etcd leader on the majority side after", at-inject, election)
	if at-inject > election.Value {
		j := judged(verdict.GuaranteeBroken, "the etcd leader moved to the majority %s after the partition; bound %s", secs(at-inject), election)
		j.Measured = []reports.Measurement{m}
		return j
	}
	return passed(at, m)
}

// judgePartitionLease: at the end of the partition, component's Lease is held, and not
// by the isolated node; when the isolated node held it, a holder on the majority side
// was seen within the bound after the partition was in place.
func judgePartitionLease(tl probe.Timeline, component, isolated string, heldByIsolated bool, inPlace, recovered time.Duration, bound topology.Bound, what string) judgement {
	series := prefixLease + component
	lastRead, read := lastOKSample(tl, series, inPlace, recovered)
	last := leaseNode(lastRead.Value)
	j := passed(inPlace)
	j.Notes = append(j.Notes, reports.Note{Name: what + ": " + component + " Lease holders", Value: holderSequence(tl, series)})
	switch {
	case !read:
		// An answer from before the partition says nothing about who held the Lease
		// during it: the guarantee was not seen kept by any client through the LB.
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("no read of the %s Lease through the LB succeeded between the partition in place (%s) and its end (%s): who held it was not seen", component, secs(inPlace), secs(recovered))
		return j
	case last == "":
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("%s Lease held by nobody at the end of the partition", component)
		return j
	case last == isolated:
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("%s Lease still held by the isolated %s at the end of the partition", component, isolated)
		return j
	case !heldByIsolated:
		return j
	}
	taken, _ := tl.FirstAnswerAfter(series, inPlace, func(s probe.Sample) bool { return s.OK && s.Value != "" && leaseNode(s.Value) != isolated })
	took := taken.Answered() - inPlace
	j.Measured = append(j.Measured, boundMeasurement(what+": "+component+" Lease on the majority side after", took, bound))
	if took > bound.Value {
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("%s Lease moved off the isolated %s %s after the partition was in place; bound %s", component, isolated, secs(took), bound)
	}
	return j
}

// newLeaderAt is when a member other than old first answered (a request sent after
// from) with a leader other than old.
func newLeaderAt(tl probe.Timeline, from time.Duration, old string) (time.Duration, bool) {
	first, found := time.Duration(0), false
	for series := range tl.Series {
		if len(series) <= len(prefixEtcd) || series[:len(prefixEtcd)] != prefixEtcd || series[len(prefixEtcd):] == old {
			continue
		}
		s, ok := tl.FirstAnswerAfter(series, from, func(s probe.Sample) bool {
			l := etcdField(s.Value, "leader")
			return s.OK && l != "" && l != "none" && l != old
		})
		if ok && (!found || s.Answered() < first) {
			first, found = s.Answered(), true
		}
	}
	return first, found
}

// lastOKSample is the last successful sample of series sent in [from, to).
func lastOKSample(tl probe.Timeline, series string, from, to time.Duration) (probe.Sample, bool) {
	var last probe.Sample
	found := false
	for _, s := range tl.Series[series] {
		if s.At >= from && s.At < to && s.OK {
			last, found = s, true
		}
	}
	return last, found
}

// judgeGracefulStop: with target stopped gracefully, not one request through the LB —
// new or kept-alive connections — failed between the stop (from) and recovery (to),
// which its running shutdown delay
// promises when it exceeds the LB's detection window: the LB marks the server DOWN
// while it still serves. The direct probe must have failed (the server did stop).
//
// With cutAllowed (loadBalancer.shutdownSessionsOnDown) HAProxy cuts every open session
// to the server the moment it marks it DOWN — while the server still serves — so a
// request in flight to it then fails by the LB's own choice (CI saw one: EOF 35 ms after
// sending, on the kept-alive connection); such requests are counted apart, not held
// against the promise.
func judgeGracefulStop(tl probe.Timeline, target string, from, to time.Duration, delay topology.Setting, detection topology.Bound, cutAllowed bool, what string) judgement {
	if s, ok := tl.FirstSentAfter(prefixAPIServer+target, from, func(s probe.Sample) bool { return !s.OK }); !ok || s.At >= to {
		return judged(verdict.FaultNotInEffect, "the direct probe of %s never failed after the stop: the API server did not stop", target)
	}
	budgets := topology.DisruptionSpec{APIServer: topology.DisruptionBudget{RecordOnly: true}, EtcdWrites: topology.DisruptionBudget{RecordOnly: true}, CutSessionsAllowed: cutAllowed}
	all, broken := monitor.JudgeDisruption(tl, probe.KVHistory{}, budgets, from, to)
	promise := fmt.Sprintf("none may fail: shutdown delay %s > LB detection window %s", delay.Value, detection.Value)
	inputs := append([]topology.BoundInput{{Name: "shutdown delay", Value: delay.Value.String(), Source: delay.Source}}, detection.Inputs...)
	j := passed(from)
	for _, d := range all[:2] { // the two LB series
		failed := d.Failed
		if d.CutAllowed {
			failed -= d.Cut
		}
		j.Measured = append(j.Measured, reports.Measurement{Name: what + ": " + d.Backend + ": failed requests", Value: float64(failed), Unit: "requests",
			Formula: fmt.Sprintf("%s (%d requests sent)", promise, d.Requests), Inputs: inputs})
		if d.Cut > 0 {
			j.Notes = append(j.Notes, reports.Note{Name: what + ": " + d.Backend + ": requests cut as the LB marked the server DOWN",
				Value: fmt.Sprintf("%d (loadBalancer.shutdownSessionsOnDown %t: %s)", d.Cut, cutAllowed, map[bool]string{true: "the LB's choice, not counted", false: "counted"}[cutAllowed])})
		}
	}
	down, marked := tl.FirstAnswerAfter(prefixBackend+target, from, func(s probe.Sample) bool { return !s.OK })
	// Stopped serving is proven only by a refused connection: its listener closed. A
	// probe that timed out (2 cores under traffic) says nothing about the server, which
	// may still be serving before the kubelet has even seen its manifest go.
	stopped, refused := tl.FirstSentAfter(prefixAPIServer+target, from, func(s probe.Sample) bool { return s.FailureCause() == probe.CauseRefused })
	if marked {
		j.Notes = append(j.Notes, reports.Note{Name: what + ": LB marked the stopping server DOWN", Value: fmt.Sprintf("%s after the stop began", secs(down.Answered()-from))})
	}
	if refused {
		j.Notes = append(j.Notes, reports.Note{Name: what + ": the server stopped serving", Value: fmt.Sprintf("%s after the stop began (its port refused connections)", secs(stopped.At-from))})
	}
	refusals, counted := lbRefusals(tl, target, from, to)
	if counted {
		j.Measured = append(j.Measured, reports.Measurement{Name: what + ": requests the LB sent to the stopped server (refused, retried elsewhere)", Value: float64(refusals), Unit: "requests",
			Formula: promise + " (HAProxy's connect errors + retries + redispatches of the server: a client behind an LB that does not retry sees each)", Inputs: inputs})
	}
	exposedUntil, exposed := inRotationAfter(tl, target, stopped, refused, to)
	if len(broken) > 0 || refusals > 0 || exposed {
		var lines []string
		for _, d := range broken {
			lines = append(lines, d.String())
		}
		if refusals > 0 {
			lines = append(lines, fmt.Sprintf("the LB sent %d requests to %s after it stopped serving (refused; HAProxy retried them elsewhere, an LB that does not retry fails them)", refusals, target))
		}
		if exposed {
			lines = append(lines, fmt.Sprintf("%s refused connections at %s while the LB still had it in rotation at %s: for at least %s every new connection the LB sent it went to a server that had stopped (whether the traffic happened to hit that window or not)",
				target, secs(stopped.Answered()), secs(exposedUntil), secs(exposedUntil-stopped.Answered())))
		}
		var arithmetic string
		switch {
		case delay.Value <= detection.Value:
			arithmetic = fmt.Sprintf("its shutdown delay %s (%s) does not exceed the LB's detection window %s: it stopped serving while the LB still sent to it", delay.Value, delay.Source, detection)
		case refused && (!marked || down.Answered() > stopped.At):
			arithmetic = fmt.Sprintf("the LB did not take it out during its shutdown delay %s: it still sent to it when the server stopped serving at %s (the LB's health check did not see the server failing /readyz)", delay.Value, secs(stopped.At))
		default:
			arithmetic = fmt.Sprintf("the LB took it out within its shutdown delay %s, and requests failed all the same", delay.Value)
		}
		j.Verdict, j.Reason = verdict.GuaranteeBroken, fmt.Sprintf("requests through the load balancer failed while %s stopped gracefully (%s): %s", target, arithmetic, strings.Join(lines, "; "))
	}
	return j
}

// inRotationAfter is the evidence that needs no luck in the traffic: the last sample of
// target's LB state that still showed it in rotation (UP, or UP and going down) and was
// sent after the server's port refused the direct probe (stopped, when refused). A
// state sampled after that answer was the LB's state while the server no longer served,
// so the LB sent it new connections for at least the time between the two; whether any
// client request fell into that window is chance (on 2 cores and with HAProxy's
// redispatch, CI saw a run where none did).
func inRotationAfter(tl probe.Timeline, target string, stopped probe.Sample, refused bool, to time.Duration) (time.Duration, bool) {
	if !refused {
		return 0, false
	}
	// Until it served again (the return, when the LB rightly has it back in rotation).
	if back, ok := tl.FirstSentAfter(prefixAPIServer+target, stopped.Answered(), func(s probe.Sample) bool { return s.OK }); ok {
		to = min(to, back.At)
	}
	var last time.Duration
	found := false
	for _, s := range tl.Series[prefixBackend+target] {
		if s.At <= stopped.Answered() || s.At >= to {
			continue
		}
		if !s.OK { // marked DOWN: out of rotation from here on
			break
		}
		last, found = s.At, true
	}
	return last, found
}

// lbRefusals is how much HAProxy's refusal counters of target grew between from and to
// (monitor.PrefixLBRefused); counted is false when the recording has none.
func lbRefusals(tl probe.Timeline, target string, from, to time.Duration) (n int64, counted bool) {
	var first, last int64
	for _, s := range tl.Series[monitor.PrefixLBRefused+target] {
		if !s.OK || s.Answered() > to {
			continue
		}
		v := monitor.Refusals(s.Value)
		if !counted || s.Answered() <= from {
			first, counted = v, true
		}
		last = v
	}
	return last - first, counted
}
