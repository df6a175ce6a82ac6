// Package nemesis draws seeded random fault schedules for a soak (`hachaos soak`) and
// says what they may cost: a schedule is a pure function of the seed, the duration and
// the topology's nodes, so the same seed draws the same schedule, and a failing run can
// be replayed and shrunk to the smallest sub-schedule that still fails. Running a
// schedule (cmd/hachaos, nemesis.go) injects each step through the fault ledger, so a
// killed soak is recovered by the next run like any other.
//
// A schedule is a list of rounds. A round is one fault, or two that overlap, drawn so
// that together they never take more than ⌊(n−1)/2⌋ etcd members or all API servers
// away; each round ends with the cluster healthy again (the readiness gate) before a
// gap and the next round. Worker faults are not drawn: every fault of a soak leaves the
// data plane whole, which is then held to "no request fails" throughout.
package nemesis

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hachaos/hachaos/topology"
)

// Kind is what a step does.
type Kind string

// The kinds a schedule draws from, each a fault of package fault.
const (
	APIServerStop   Kind = "apiserver-stop"   // its static Pod's manifest taken away (graceful)
	APIServerKill   Kind = "apiserver-kill"   // SIGKILL; the kubelet restarts it
	APIServerFreeze Kind = "apiserver-freeze" // SIGSTOP until recovery
	EtcdMemberStop  Kind = "etcd-member-stop" // the member stopped until recovery
	EtcdMemberCrash Kind = "etcd-member-crash"
	SchedulerKill   Kind = "scheduler-leader-kill" // the kube-scheduler Lease holder killed
	ManagerKill     Kind = "controller-manager-leader-kill"
	Partition       Kind = "partition" // one control plane cut off from the others (both ways)
)

// Kinds are every kind, in the order Draw indexes them.
var Kinds = []Kind{APIServerStop, APIServerKill, APIServerFreeze, EtcdMemberStop, EtcdMemberCrash, SchedulerKill, ManagerKill, Partition}

// Step is one fault of a schedule: at Offset after its round began, on Target, held for
// Hold before it is recovered. A leader kill's target is whoever holds the Lease when it
// runs (Target names the Lease).
type Step struct {
	Index  int           `json:"index"` // its position in the whole schedule, for --only
	Kind   Kind          `json:"kind"`
	Target string        `json:"target"`
	Offset time.Duration `json:"offset"`
	Hold   time.Duration `json:"hold"`
}

func (s Step) String() string {
	return fmt.Sprintf("#%d %s on %s at +%s for %s", s.Index, s.Kind, s.Target, s.Offset, s.Hold)
}

// Round is one or two overlapping steps, then Gap of quiet after the cluster is healthy again.
type Round struct {
	Steps []Step        `json:"steps"`
	Gap   time.Duration `json:"gap"`
}

// Schedule is what Draw drew, with what it was drawn from.
type Schedule struct {
	Seed     uint64        `json:"seed"`
	Duration time.Duration `json:"duration"`
	Rounds   []Round       `json:"rounds"`
}

// Targets are the topology's nodes a schedule may act on.
type Targets struct {
	ControlPlanes []string
	// EtcdMembers are the etcd members' nodes: the control planes when stacked.
	EtcdMembers []string
	Stacked     bool
}

// The ranges a step's hold and a round's gap are drawn from. Holds are fault
// durations, not waits: long enough for the LB and etcd to have reacted (several
// detection windows and election bounds), short enough for many rounds per soak.
const (
	minHold, maxHold = 8 * time.Second, 25 * time.Second
	minGap, maxGap   = 2 * time.Second, 10 * time.Second
	// roundSettle is what Draw counts per round for recovery and the readiness gate,
	// to fill the duration (the run itself waits as long as the cluster takes).
	roundSettle = 15 * time.Second
)

// Draw draws the schedule for seed that fills duration on targets. The same arguments
// always draw the same schedule.
func Draw(seed uint64, duration time.Duration, t Targets) (Schedule, error) {
	if len(t.ControlPlanes) < 2 || len(t.EtcdMembers) < 3 {
		return Schedule{}, fmt.Errorf("a soak needs at least 2 control planes and 3 etcd members (got %d and %d): with fewer no fault leaves the cluster serving", len(t.ControlPlanes), len(t.EtcdMembers))
	}
	if duration <= 0 {
		return Schedule{}, fmt.Errorf("duration %s: must be positive", duration)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := Schedule{Seed: seed, Duration: duration}
	var planned time.Duration
	index := 0
	for planned < duration {
		round := drawRound(r, t, &index)
		s.Rounds = append(s.Rounds, round)
		planned += round.length() + roundSettle
	}
	return s, nil
}

func drawRound(r *rand.Rand, t Targets, index *int) Round {
	first := drawStep(r, t)
	steps := []Step{first}
	if r.IntN(2) == 1 { // half the rounds overlap a second fault, where one is allowed
		for try := 0; try < 10; try++ {
			second := drawStep(r, t)
			second.Offset = drawDuration(r, 0, first.Hold)
			if Allowed([]Step{first, second}, t) {
				steps = append(steps, second)
				break
			}
		}
	}
	for i := range steps {
		steps[i].Index = *index
		*index++
	}
	return Round{Steps: steps, Gap: drawDuration(r, minGap, maxGap)}
}

func drawStep(r *rand.Rand, t Targets) Step {
	k := Kinds[r.IntN(len(Kinds))]
	s := Step{Kind: k, Hold: drawDuration(r, minHold, maxHold)}
	switch k {
	case EtcdMemberStop, EtcdMemberCrash:
		s.Target = t.EtcdMembers[r.IntN(len(t.EtcdMembers))]
	case SchedulerKill:
		s.Target = "kube-scheduler"
	case ManagerKill:
		s.Target = "kube-controller-manager"
	default:
		s.Target = t.ControlPlanes[r.IntN(len(t.ControlPlanes))]
	}
	return s
}

// drawDuration draws from [lo, hi) in tenths of a second: a schedule reads as it runs.
func drawDuration(r *rand.Rand, lo, hi time.Duration) time.Duration {
	tenths := int64((hi - lo) / (100 * time.Millisecond))
	return lo + time.Duration(r.Int64N(tenths))*100*time.Millisecond
}

func (r Round) length() time.Duration {
	var end time.Duration
	for _, s := range r.Steps {
		end = max(end, s.Offset+s.Hold)
	}
	return end + r.Gap
}

// Allowed says whether steps may hold at once: never more than ⌊(n−1)/2⌋ of the n etcd
// members impaired (a stacked control plane's partition impairs its member), never
// every API server (a stacked member's loss takes its API server, which reads only its
// own member, with it; a partition takes the isolated API server), never two steps on
// one target, and never both leader kills of one Lease.
func Allowed(steps []Step, t Targets) bool {
	members, servers, targets := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range steps {
		if targets[s.Target] {
			return false
		}
		targets[s.Target] = true
		switch s.Kind {
		case EtcdMemberStop, EtcdMemberCrash:
			members[s.Target] = true
			if t.Stacked {
				servers[s.Target] = true
			}
		case Partition:
			servers[s.Target] = true
			if t.Stacked {
				members[s.Target] = true
			}
		case APIServerStop, APIServerKill, APIServerFreeze:
			servers[s.Target] = true
		}
	}
	return len(members) <= (len(t.EtcdMembers)-1)/2 && len(servers) < len(t.ControlPlanes)
}

// Steps are every step of the schedule, in order.
func (s Schedule) Steps() []Step {
	var out []Step
	for _, r := range s.Rounds {
		out = append(out, r.Steps...)
	}
	return out
}

// Only is the sub-schedule of the steps whose index is in keep (rounds left empty
// dropped): what a replay of part of a failing run runs.
func (s Schedule) Only(keep map[int]bool) Schedule {
	out := Schedule{Seed: s.Seed, Duration: s.Duration}
	for _, r := range s.Rounds {
		var steps []Step
		for _, st := range r.Steps {
			if keep[st.Index] {
				steps = append(steps, st)
			}
		}
		if len(steps) > 0 {
			base := steps[0].Offset // a round starts with its first step
			for i := range steps {
				steps[i].Offset -= base
			}
			out.Rounds = append(out.Rounds, Round{Steps: steps, Gap: r.Gap})
		}
	}
	return out
}

// String is the schedule as a table, one step per line.
func (s Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %s: %d rounds, %d steps\n", s.Seed, s.Duration, len(s.Rounds), len(s.Steps()))
	for i, r := range s.Rounds {
		for _, st := range r.Steps {
			fmt.Fprintf(&b, "  round %2d  %s\n", i+1, st)
		}
		fmt.Fprintf(&b, "  round %2d  then healthy again, %s quiet\n", i+1, r.Gap)
	}
	return b.String()
}

// TargetsOf are the Spec's targets, by the nodes' names.
func TargetsOf(spec topology.Spec, planes, etcdMembers []string) Targets {
	t := Targets{ControlPlanes: planes, EtcdMembers: etcdMembers, Stacked: spec.Etcd.Mode == topology.EtcdStacked}
	if t.Stacked {
		t.EtcdMembers = planes
	}
	return t
}
