package guarantees

// Target is the rule a spec picks its fault's node by. Most depend on the cluster's
// state when the spec starts (who holds a Lease, which etcd member leads), so a dry
// run resolves what it can read without acting and names the rule for the rest.
type Target string

// The rules the fault specs pick their targets by.
const (
	TargetLastControlPlane      Target = "the last control plane by name"
	TargetControlPlanesButFirst Target = "every control plane but the first by name"
	TargetSchedulerLeaseHolder  Target = "the node holding the kube-scheduler Lease"
	TargetControllerLeaseHolder Target = "the node holding the kube-controller-manager Lease"
	// TargetLeaseHolders: the scheduler Lease holder's node, or the etcd leader's when
	// that node also holds the controller-manager Lease (made the etcd leader's too,
	// stacked), so every leader has to move.
	TargetLeaseHolders   Target = "the node holding the Leases, made the etcd leader too when stacked"
	TargetEtcdLeader     Target = "the etcd leader's member"
	TargetEtcdFollower   Target = "an etcd follower's member"
	TargetEtcdMajority   Target = "a majority of the etcd members, the leader first"
	TargetLastEtcdMember Target = "the last etcd member by name"
	TargetFirstWorker    Target = "the first worker by name"
)

// OnlyIsolatedNodeCPUs: the partition specs limit the isolated node's CPUs only when
// the Spec sets isolatedNodeCPUs.
const OnlyIsolatedNodeCPUs = "isolatedNodeCPUs > 0"

// PlannedFault is one fault a spec injects: its kind (fault.Kind…), the rule for its
// target, and how long it holds.
type PlannedFault struct {
	Kind   string `json:"kind"`
	Target Target `json:"target"`
	Hold   string `json:"hold"`
	// Only says when the spec injects it at all ("" for always).
	Only string `json:"only,omitempty"`
}

// SpecPlan is what one fault spec injects, by the spec's full text (Ginkgo's
// container and leaf text, as hachaos list prints it).
type SpecPlan struct {
	Spec   string         `json:"spec"`
	Faults []PlannedFault `json:"faults"`
	// JudgedOn names what, beyond its faults' needs, the spec needs of a provider to
	// judge its guarantees (topology.Capability values, e.g. "lb-states"); a provider
	// lacking one skips the spec.
	JudgedOn []string `json:"judgedOn,omitempty"`
}

// Holds, in words, as the specs derive them.
const (
	holdWriteGap   = "twice the etcd write-gap bound"
	holdUntilLease = "until a standby holds the Lease (its takeover bound + waits.componentRestart at most)"
	holdPartition  = "the longer Lease takeover bound + the LB detection window + the etcd election bound"
	holdLB         = "twice the LB detection window + one sample timeout"
	holdReschedule = "until every replica is Ready off the worker (its rescheduling bound at most)"
	holdSecurity   = "until in effect; the partition past twice the etcd election bound"
)

// FaultPlans lists, for every spec that injects a fault, what it injects: what
// hachaos run --dry-run prints before anything is created, and what the suites check
// each injection against (a fault not in its spec's plan stops the spec before it is
// injected), so the dry run cannot silently drift from what runs.
var FaultPlans = []SpecPlan{
	{"Leader re-election hands the kube-controller-manager Lease to a standby within its bounds when the leader is killed",
		[]PlannedFault{{Kind: "process-kill", Target: TargetControllerLeaseHolder, Hold: holdUntilLease}}, nil},
	{"Leader re-election hands the kube-scheduler Lease to a standby within its bounds when the leader is killed",
		[]PlannedFault{{Kind: "process-kill", Target: TargetSchedulerLeaseHolder, Hold: holdUntilLease}}, nil},
	{"Graceful API server termination loses no request through the load balancer when one API server stops gracefully",
		[]PlannedFault{{Kind: "apiserver-stop", Target: TargetLastControlPlane, Hold: "until it stopped, then one sample timeout"}}, lbStates},
	{"etcd quorum tolerance keeps writes acknowledged and loses none when a follower member is stopped",
		[]PlannedFault{{Kind: "etcd-member-stop", Target: TargetEtcdFollower, Hold: holdWriteGap}}, nil},
	{"etcd quorum tolerance elects a new leader and loses no write when the leader member crashes",
		[]PlannedFault{{Kind: "etcd-member-crash", Target: TargetEtcdLeader, Hold: "until it rejoined, then " + holdWriteGap}}, nil},
	{"etcd quorum tolerance is safely unavailable with a majority of members stopped and recovers after restore",
		[]PlannedFault{{Kind: "etcd-member-stop", Target: TargetEtcdMajority, Hold: holdWriteGap}}, nil},
	{"Security after faults restarts an etcd member and heals a control-plane partition before the checks run again",
		[]PlannedFault{
			{Kind: "etcd-member-crash", Target: TargetLastEtcdMember, Hold: holdSecurity},
			{Kind: "partition", Target: TargetLastControlPlane, Hold: holdSecurity},
		}, nil},
	{"Control-plane partition keeps the majority serving when a control plane is partitioned (both); the minority rejoins",
		partitionPlan, nil},
	{"Control-plane partition keeps the majority serving when a control plane is partitioned (inbound); the minority rejoins",
		partitionPlan, nil},
	{"Pod rescheduling reschedules the workload onto healthy workers when a worker is lost",
		[]PlannedFault{{Kind: "worker-loss", Target: TargetFirstWorker, Hold: holdReschedule}}, nil},
	{"Pod rescheduling drains a worker without violating the PodDisruptionBudget and reschedules its Pods",
		[]PlannedFault{{Kind: "worker-drain", Target: TargetFirstWorker, Hold: holdReschedule}}, nil},
	{"Load balancer rerouting keeps clients through the load balancer working when one API server is frozen",
		[]PlannedFault{{Kind: "apiserver-freeze", Target: TargetLastControlPlane, Hold: holdLB}}, lbStates},
	{"Load balancer rerouting keeps clients through the load balancer working when one API server is killed",
		[]PlannedFault{{Kind: "process-kill", Target: TargetLastControlPlane, Hold: holdLB}}, lbStates},
	{"Load balancer rerouting keeps clients through the load balancer working when one API server is stopped",
		[]PlannedFault{{Kind: "apiserver-stop", Target: TargetLastControlPlane, Hold: holdLB}}, lbStates},
	{"Load balancer rerouting keeps clients through the load balancer working with all API servers but one stopped",
		[]PlannedFault{{Kind: "apiserver-stop", Target: TargetControlPlanesButFirst, Hold: holdLB}}, lbStates},
}

// lbStates: the LB specs judge "marked DOWN" and "back in rotation" on the LB's own
// view of its servers.
var lbStates = []string{"lb-states"}

var partitionPlan = []PlannedFault{
	{Kind: "partition", Target: TargetLeaseHolders, Hold: holdPartition},
	{Kind: "cpu-limit", Target: TargetLeaseHolders, Hold: "until its etcd member rejoined", Only: OnlyIsolatedNodeCPUs},
}

// PlanOf is the plan of the spec with this full text; false for a spec that injects
// nothing (or one the catalogue lacks, which a dry run reports).
func PlanOf(spec string) (SpecPlan, bool) {
	for _, p := range FaultPlans {
		if p.Spec == spec {
			return p, true
		}
	}
	return SpecPlan{}, false
}

// Planned reports whether the spec's plan lists a fault of kind.
func (p SpecPlan) Planned(kind string) bool {
	for _, f := range p.Faults {
		if f.Kind == kind {
			return true
		}
	}
	return false
}
