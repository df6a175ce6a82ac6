package reports

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Shard is one part of a run split by label over several machines (the nightly
// workflow's shards): its results and the folder they were written in.
type Shard struct {
	Dir     string
	Results Results
}

// Merge makes one run of shards that tested the same thing — the same Spec (by hash),
// topology, hachaos build, number of trials and conditions — so a sharded run gets one
// report: the specs side by side (each in one shard only), the durations and their
// split summed (machine time across the shards), the label filters joined. Timeline
// paths are rewritten to be relative to outDir, where the merged reports are written.
// Every mismatch is named, all at once.
func Merge(shards []Shard, outDir string) (Results, error) {
	if len(shards) == 0 {
		return Results{}, errors.New("merge: no shard")
	}
	first := shards[0].Results
	merged := Results{Schema: ResultsSchema, Run: first.Run, Started: first.Started}
	var problems, filters []string
	seen := map[string]string{}
	for _, sh := range shards {
		r := sh.Results
		problems = append(problems, mismatches(sh.Dir, first.Run, r.Run)...)
		if r.Run.LabelFilter != "" {
			filters = append(filters, "("+r.Run.LabelFilter+")")
		}
		if r.Run.Seed != first.Run.Seed {
			merged.Run.Seed = 0 // each shard ordered its specs with a seed of its own
		}
		if r.Started.Before(merged.Started) {
			merged.Started = r.Started
		}
		merged.Duration += r.Duration
		merged.WallTime.BringUp += r.WallTime.BringUp
		merged.WallTime.Faults += r.WallTime.Faults
		merged.WallTime.Harness += r.WallTime.Harness
		for _, s := range r.Specs {
			if other, ok := seen[s.Name]; ok {
				problems = append(problems, fmt.Sprintf("spec %q is in %s and in %s: shards must split the specs, not repeat them", s.Name, other, sh.Dir))
				continue
			}
			seen[s.Name] = sh.Dir
			merged.Specs = append(merged.Specs, relocated(s, sh.Dir, outDir))
		}
	}
	merged.Run.LabelFilter = strings.Join(filters, " || ")
	if len(problems) > 0 {
		return Results{}, fmt.Errorf("merge: the shards did not test the same thing:\n  %s", strings.Join(problems, "\n  "))
	}
	return merged, nil
}

// mismatches names how shard's run differs from the first shard's in what a merged
// report may only hold once.
func mismatches(shard string, want, got RunInfo) []string {
	var out []string
	differ := func(field, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s: run.%s is %q, the first shard's %q", shard, field, b, a))
		}
	}
	differ("specSHA256", want.SpecSHA256, got.SpecSHA256)
	differ("topology", fmt.Sprintf("%+v", want.Topology), fmt.Sprintf("%+v", got.Topology))
	differ("versions", fmt.Sprintf("%+v", want.Versions), fmt.Sprintf("%+v", got.Versions))
	differ("harness", fmt.Sprintf("%+v", want.Harness), fmt.Sprintf("%+v", got.Harness))
	differ("trials", fmt.Sprint(want.Trials), fmt.Sprint(got.Trials))
	differ("conditions", want.Conditions.String(), got.Conditions.String())
	return out
}

// relocated is s with its timelines' paths relative to outDir instead of shardDir.
func relocated(s Spec, shardDir, outDir string) Spec {
	trials := make([]Trial, len(s.Trials))
	for i, t := range s.Trials {
		if t.Timeline != "" {
			if rel, err := filepath.Rel(outDir, filepath.Join(shardDir, t.Timeline)); err == nil {
				t.Timeline = rel
			}
		}
		trials[i] = t
	}
	s.Trials = trials
	return s
}
