// Package guarantees is the catalogue of what the suites promise and how each promise is
// shown able to fail: every fault guarantee with its negative control. It imports nothing
// of the suites (no Ginkgo), so the README's table, its unit test and hachaos list all
// read the same list.
package guarantees

import (
	"fmt"
	"strings"
)

// NegativeControl is how one guarantee is shown able to fail: what breaks it, where that
// runs, and what the failure must say (with the verdict "guarantee broken"). The README's
// table of controls is rendered from NegativeControls (a unit test keeps them equal), so
// a guarantee without a control says so.
type NegativeControl struct {
	Guarantee string `json:"guarantee"`
	Control   string `json:"control"` // the sabotage, or the doctored recording; "" for none yet
	RunsIn    string `json:"runsIn"`  // the make target or unit test
	Reason    string `json:"reason"`  // what the failure message must contain
}

// NegativeControls lists every fault guarantee and its control.
var NegativeControls = []NegativeControl{
	{"every fault spec: its fault in effect for the whole hold", "every fault's Inject a no-op (`HACHAOS_DISABLE_FAULTS=all`)", "`make chaos-selfcheck`", "fault not in effect"},
	{"LB: clients fail for at most the detection window (API server frozen)", "`lbWithoutHealthChecks`: HAProxy without health checks and redispatch, reloaded in place; on a cluster hachaos did not create, the same made by its owner (kind's LB reloaded without checks, the Spec still stating them)", "`make chaos-negative-running`; `scripts/existing-demo.sh --kind-cli` step 8", "more than the detection window"},
	{"LB: the LB marks the API server DOWN within the detection window", "recording doctored: never DOWN, or DOWN after the window", "`TestLBJudgeControls`", "later than its detection window"},
	{"LB: clients fail for at most the detection window (API server killed, stopped, all but one stopped)", "`lbWithoutHealthChecks`, as above, one run per spec", "`make chaos-negative-running`", "more than the detection window"},
	{"LB: a recovered API server back in rotation within the rise window of answering /readyz again (else \"did not recover\")", "`lbSlowRise`: HAProxy reloaded in place with a rise whose good checks alone outlast twice the window (caught in the kill spec); recordings doctored in `TestBackInRotationJudgeControls`", "`make chaos-negative-running`", "later than its rise window"},
	{"graceful stop: no request through the LB fails while one API server stops gracefully", "`apiServerShutdownDelayZero`: the target API server with `--shutdown-delay-duration=0s` (a window, not a certain failure: nightly)", "`make chaos-negative-nightly`", "does not exceed the LB's detection window"},
	{"graceful stop: the LB takes the stopping server out during its shutdown delay", "`lbChecksHealthz`: HAProxy checks `/healthz` (as kind's and kubeadm's guides do), which stays 200 during the delay", "`make chaos-negative-running`", "did not take it out during its shutdown delay"},
	{"API consistency (every fault spec): the four guarantees below, on a live cluster", "`apiServerSeparateStore`: the last control plane's API server keeps ConfigMaps in an etcd of its own (`--etcd-servers-overrides`); breaks all four (measured 3, 3, 13 and 44 violations)", "`make chaos-negative-running`", "the Kubernetes API through the load balancer broke a consistency guarantee"},
	{"API consistency: linearizable per object (an update with a resourceVersion is a compare-and-set)", "history: two updates from one resourceVersion both acknowledged", "`TestCheckControls` (apicheck)", "no order"},
	{"API consistency: resourceVersions of acknowledged writes follow real time", "history: a write called after another was acknowledged got a lower resourceVersion", "`TestCheckControls` (apicheck)", "not above"},
	{"API consistency: reads never older than an acknowledged write", "history: a list served from a stale cache", "`TestCheckControls` (apicheck)", "older than"},
	{"API consistency: every watcher sees every change exactly once, in order", "checker tests: a watcher that drops an event on resume, delivers one twice, or goes quiet", "`TestCheckControls` (apicheck)", "never reached it"},
	{"monitor/upgrade: the version-skew policy held at every step", "recorded upgrade in kubeadm's guide order (a control plane's kubelet upgraded before the other API servers)", "`TestMonitorJudgeCatchesTheRecordedSkewOfTheGuideOrder`", "is newer than the API server"},
	{"monitor: a step seen restarting a stacked etcd member costs the LB's clients at most its allowance, and nothing outside it", "recordings: the same failures with no step seen restarting a member, one failure outside the allowed step, more than the allowance inside it", "`TestMonitorJudgeAllowsAStackedMemberRestartItsBoundOnly`", "over its disruption budget"},
	{"monitor/upgrade: each Lease held by nobody for at most its bound", "recording doctored: the scheduler's Lease read as held by nobody for longer than the bound", "`TestMonitorJudgeHoldsEachLeaseToItsTakeoverBound`", "held by nobody for"},
	{"monitor/upgrade: no PodDisruptionBudget of hachaos' workloads ever below what it requires", "recording doctored: one sample with 0 healthy Pods of 1 required", "`TestMonitorJudgeCatchesAPDBBroken`", "PodDisruptionBudget was broken"},
	{"monitor: requests through the LB within the disruption budget", "recording with one failed request under the zero budget; live: the first certification's kubelets of the next minor restarting every API server abruptly (`make certify FROM=v1.36.3 TO=v1.37.2` before the API server was stopped around them: 7–9 failed per node)", "`TestMonitorJudgeVerdicts`", "over its disruption budget"},
	{"monitor: no acknowledged etcd write lost, history linearizable, write gap within its bound", "recording doctored: a write not read back, porcupine Illegal, 7 s without an acknowledgement", "`TestMonitorJudgeVerdicts`", "not read back"},
	{"etcd: a leader of a newer term within the election bound after the leader crashed", "recording doctored: the election ends after the bound", "`TestNewLeaderJudgeCatchesADoctoredSlowElection`", "first seen"},
	{"etcd: longest time without an acknowledged write", "recording doctored: no acknowledgement for 8 s", "`TestWriteGapJudgeCatchesADoctoredStall`", "no write was acknowledged for"},
	{"etcd: no write acknowledged while a majority is provably down", "recording judged with recovery beginning after two writes were acknowledged", "`TestMajorityStopWithWritesAckedAfterRestorePasses`", "split brain"},
	{"etcd: the history is linearizable", "history doctored: a stale read after an acknowledged write", "`TestCheckLinearizable` (probe)", "Illegal"},
	{"etcd: acknowledged writes read back after the fault", "checker test: a store that lost an acknowledged write, or holds an older value of it", "`TestMissingWritesControls` (probe)", "missing"},
	{"etcd: a crashed or stopped member rejoins and catches up within waits.componentRestart (else \"did not recover\")", "`etcdNotRestarted`: every stacked member's static Pod with `restartPolicy: Never`, so the crashed leader is never started again (it waits out waits.componentRestart: nightly)", "`make chaos-negative-nightly`", "rejoined and caught up within waits.componentRestart"},
	{"etcd: writes acknowledged again after a majority is restored (else \"did not recover\")", "recording judged as if the members had been restored after its last acknowledged write", "`TestWritesAfterRestoreJudgeControls`", "no write was acknowledged after the members were restored"},
	{"leader: a standby holds the Lease within its bound", "`staleLeaseTimings`: upstream's lease timings while the Spec promises the profile's", "`make chaos-negative-running`", "Lease taken over"},
	{"leader: every instance takes part in leader election (never two leaders)", "`schedulerOutsideLeaderElection`: the last control plane's scheduler with `--leader-elect=false`", "`make chaos-negative-running`", "runs without leader election"},
	{"worker lost: back to full Ready replicas on healthy nodes within the bound", "`workloadPinned`: the workload pinned to the lost worker", "`make chaos-negative-running`", "back to 4 Ready replicas on healthy nodes"},
	{"drain: never fewer Ready replicas than the PDB allows", "`workloadWithoutPDB`: the workload without its PDB", "`make chaos-negative-running`", "the PodDisruptionBudget promises"},
	{"partition: clients through the LB stop failing within the stale-readiness + detection window", "recording doctored: LB failures after the window", "`TestPartitionJudgeControls`", "failed more than"},
	{"partition: the majority elects its own etcd leader within the election bound", "recording doctored: every member follows the isolated one", "`TestPartitionJudgeControls`", "stayed on the isolated member"},
	{"partition: the Leases end on the majority side within their bounds", "recording doctored: the isolated node keeps the scheduler Lease", "`TestPartitionJudgeControls`", "still held by the isolated"},
	{"partition: the deposed leader logs that it stopped before its successor starts (never two leaders)", "log lines doctored: the successor first, or the deposed leader never stepping down", "`TestFindHandover`", "(negative gap, no step-down)"},
	{"partition: the write through the isolated member alone refused, and never committed after healing", "judged answers: the write acknowledged, or refused and read back after healing", "`TestIsolatedWriteJudgeControls`", "split brain"},
	{"data plane (every fault spec but a lost worker's): no request to the workload's NodePorts fails", "`dataPlaneLivenessOnAPI`: the data-plane server's liveness probe on the API servers' `/readyz`, caught in the etcd majority stop", "`make chaos-negative-running`", "the applications' traffic must not depend on the control plane"},
	{"data plane, worker lost: requests leave the lost worker's Pods within grace + monitor period + EndpointSlice batch + kube-proxy min sync + API request timeout", "`dataPlanePinned`: the data-plane server only on the worker that is lost", "`make chaos-negative-running`", "past the routing bound"},
	{"drain: back to full Ready replicas on healthy nodes within Pods × (Pod startup + eviction retry)", "`workloadSlowToStart`: the workload's Pods Ready only after twice waits.podStartup", "`make chaos-negative-running`", "drain: the workload not back to 4 Ready replicas"},
}

// NegativeControlsTable renders NegativeControls as the README's Markdown table.
func NegativeControlsTable() string {
	var b strings.Builder
	b.WriteString("| guarantee | negative control | runs in | detected by |\n|---|---|---|---|\n")
	for _, c := range NegativeControls {
		control, runs, reason := c.Control, c.RunsIn, fmt.Sprintf("%q", c.Reason)
		if control == "" {
			control, runs, reason = "none yet", "—", "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Guarantee, control, runs, reason)
	}
	return b.String()
}
