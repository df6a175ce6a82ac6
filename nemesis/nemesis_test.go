package nemesis

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hachaos/hachaos/topology"
)

var stacked = Targets{ControlPlanes: []string{"cp1", "cp2", "cp3"}, EtcdMembers: []string{"cp1", "cp2", "cp3"}, Stacked: true}

func TestTheSameSeedDrawsTheSameSchedule(t *testing.T) {
	a, err := Draw(42, 20*time.Minute, stacked)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Draw(42, 20*time.Minute, stacked)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("seed 42 drew two schedules:\n%s\n%s", a, b)
	}
	c, _ := Draw(43, 20*time.Minute, stacked)
	if reflect.DeepEqual(a.Rounds, c.Rounds) {
		t.Fatal("seeds 42 and 43 drew the same schedule")
	}
	if len(a.Steps()) < 20 {
		t.Errorf("20 minutes hold only %d steps:\n%s", len(a.Steps()), a)
	}
}

func TestEveryRoundKeepsQuorumAndAnAPIServer(t *testing.T) {
	external := Targets{ControlPlanes: []string{"cp1", "cp2", "cp3"}, EtcdMembers: []string{"e1", "e2", "e3"}}
	for _, targets := range []Targets{stacked, external} {
		for seed := uint64(0); seed < 200; seed++ {
			s, err := Draw(seed, 30*time.Minute, targets)
			if err != nil {
				t.Fatal(err)
			}
			overlapped := 0
			for _, r := range s.Rounds {
				if !Allowed(r.Steps, targets) {
					t.Fatalf("seed %d: round %v takes a quorum or every API server", seed, r.Steps)
				}
				if len(r.Steps) == 2 {
					overlapped++
					if r.Steps[1].Offset >= r.Steps[0].Hold {
						t.Fatalf("seed %d: the second step of %v starts after the first ended", seed, r.Steps)
					}
				}
			}
			if overlapped == 0 {
				t.Fatalf("seed %d: no round overlaps two faults", seed)
			}
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []Step
		want  bool
	}{
		{"two stacked members", []Step{{Kind: EtcdMemberStop, Target: "cp1"}, {Kind: EtcdMemberCrash, Target: "cp2"}}, false},
		{"a member and its partition's peer", []Step{{Kind: EtcdMemberStop, Target: "cp1"}, {Kind: Partition, Target: "cp2"}}, false},
		{"two API servers of three", []Step{{Kind: APIServerKill, Target: "cp1"}, {Kind: APIServerFreeze, Target: "cp2"}}, true},
		{"a member and a leader kill", []Step{{Kind: EtcdMemberStop, Target: "cp1"}, {Kind: SchedulerKill, Target: "kube-scheduler"}}, true},
		{"one target twice", []Step{{Kind: APIServerKill, Target: "cp1"}, {Kind: APIServerStop, Target: "cp1"}}, false},
	} {
		if got := Allowed(tc.steps, stacked); got != tc.want {
			t.Errorf("%s: allowed %v, want %v", tc.name, got, tc.want)
		}
	}
	three := Targets{ControlPlanes: []string{"cp1", "cp2", "cp3"}, EtcdMembers: stacked.EtcdMembers, Stacked: true}
	if Allowed([]Step{{Kind: APIServerKill, Target: "cp1"}, {Kind: APIServerStop, Target: "cp2"}, {Kind: APIServerFreeze, Target: "cp3"}}, three) {
		t.Error("every API server away at once was allowed")
	}
}

func TestOnlyKeepsTheChosenStepsInTheirRounds(t *testing.T) {
	s, _ := Draw(7, 10*time.Minute, stacked)
	var keep []int
	for _, st := range s.Steps() {
		if st.Index%3 == 1 {
			keep = append(keep, st.Index)
		}
	}
	sub := s.Only(indexSet(keep))
	var got []int
	for _, r := range sub.Rounds {
		if len(r.Steps) == 0 || r.Steps[0].Offset != 0 {
			t.Fatalf("round %v does not start with its first step", r.Steps)
		}
		for _, st := range r.Steps {
			got = append(got, st.Index)
		}
	}
	if !slices.Equal(got, keep) {
		t.Fatalf("kept %v, want %v", got, keep)
	}
}

func indexSet(keep []int) map[int]bool {
	m := map[int]bool{}
	for _, i := range keep {
		m[i] = true
	}
	return m
}

// A run fails when it holds both step 3 and step 11 (an interaction): Shrink finds
// exactly those two.
func TestShrinkFindsTheInteraction(t *testing.T) {
	steps := make([]int, 16)
	for i := range steps {
		steps[i] = i
	}
	fails := func(keep []int) (bool, error) { return slices.Contains(keep, 3) && slices.Contains(keep, 11), nil }
	got, runs, err := Shrink(steps, 100, fails)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{3, 11}) {
		t.Fatalf("shrunk to %v in %d runs, want [3 11]", got, runs)
	}
	if _, runs, _ := Shrink(steps, 4, fails); runs != 4 {
		t.Errorf("%d runs made with at most 4 allowed", runs)
	}
}

func TestBudgetSumsTheStepsAllowances(t *testing.T) {
	b := topology.NewBounds(topology.Default(), topology.DefaultComponentTimings())
	s := Schedule{Rounds: []Round{{Steps: []Step{{Kind: APIServerKill}, {Kind: APIServerStop, Index: 1}}}, {Steps: []Step{{Kind: Partition, Index: 2}}}}}
	got, _ := Budget(s, b, true, topology.DisruptionSpec{}, 100*time.Millisecond, 2*time.Second)
	want := b.LBDetection().Value + b.APIServerEtcdUnready().Value + b.LBDetection().Value
	if got.LBNewConnections.Seconds.Duration != want || got.LBKeptAlive.Seconds.Duration != want+4*time.Second {
		t.Fatalf("budget %+v, want %s (kept-alive + 2 client timeouts)", got, want)
	}
}
