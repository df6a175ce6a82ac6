package reports

import (
	"strings"
	"testing"
	"time"
)

func shardOf(dir, filter string, started time.Time, specs ...string) Shard {
	r := Results{Schema: ResultsSchema, Started: started, Duration: 100, WallTime: WallTime{BringUp: 10, Faults: 60, Harness: 30},
		Run: RunInfo{Topology: Topology{Name: "hachaos", Etcd: "stacked"}, SpecSHA256: "abc", Trials: 1, LabelFilter: filter, Seed: 7}}
	for _, name := range specs {
		r.Specs = append(r.Specs, Spec{Name: name, Trials: []Trial{{Verdict: Passed, Timeline: "timelines/" + name + ".json"}}})
	}
	return Shard{Dir: dir, Results: r}
}

func TestMergePutsTheShardsSpecsSideBySide(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 2, 17, 0, 0, time.UTC)
	merged, err := Merge([]Shard{
		shardOf("shards/etcd", "etcd", t0.Add(time.Minute), "stops a follower"),
		shardOf("shards/lb", "lb || leader", t0, "freezes an API server", "kills the leader"),
	}, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Specs) != 3 || merged.Duration != 200 || merged.WallTime.Faults != 120 || !merged.Started.Equal(t0) {
		t.Fatalf("merged %d specs, %v s, faults %v s, started %s", len(merged.Specs), merged.Duration, merged.WallTime.Faults, merged.Started)
	}
	if got := merged.Run.LabelFilter; got != "(etcd) || (lb || leader)" {
		t.Errorf("label filter %q", got)
	}
	if got := merged.Specs[1].Trials[0].Timeline; got != "../shards/lb/timelines/freezes an API server.json" {
		t.Errorf("timeline path %q is not relative to the merged folder", got)
	}
}

// Shards of different Specs, builds or topologies are refused, every difference named,
// and so is a spec run in two shards.
func TestMergeRefusesShardsThatTestedDifferentThings(t *testing.T) {
	a := shardOf("a", "etcd", time.Now(), "stops a follower")
	b := shardOf("b", "lb", time.Now(), "stops a follower")
	b.Results.Run.SpecSHA256 = "def"
	b.Results.Run.Trials = 3
	b.Results.Run.Conditions.Sabotage = "lbWithoutHealthChecks"
	_, err := Merge([]Shard{a, b}, "out")
	if err == nil {
		t.Fatal("merged shards of different Specs")
	}
	for _, want := range []string{"run.specSHA256", "run.trials", "run.conditions", `spec "stops a follower" is in a and in b`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}
