package reports

import (
	"reflect"
	"testing"
)

func TestGitHubAnnotationsPointAtTheSpecByVerdict(t *testing.T) {
	r := Results{Specs: []Spec{
		{Name: "LB keeps clients working, frozen", File: "suites/lb_test.go", Line: 14, Trials: []Trial{{Verdict: Passed}}},
		{Name: "etcd elects a leader", File: "suites/etcd_test.go", Line: 20, Trials: []Trial{
			{Verdict: Passed}, {Verdict: "guarantee broken", Failure: "no leader\nwithin 4 s, 100%"}, {Verdict: "fault not in effect", Failure: "second"}}},
		{Name: "drain", File: "suites/worker_test.go", Line: 9, Trials: []Trial{{Verdict: "fault not in effect", Failure: "not cordoned"}}},
		{Name: "skipped", Trials: []Trial{{Verdict: Skipped}}},
	}}
	want := []string{
		"::error file=suites/etcd_test.go,line=20,title=guarantee broken%3A etcd elects a leader::2 of 3 trials: no leader%0Awithin 4 s, 100%25",
		"::warning file=suites/worker_test.go,line=9,title=fault not in effect%3A drain::not cordoned",
	}
	if got := GitHubAnnotations(r); !reflect.DeepEqual(got, want) {
		t.Errorf("annotations:\n%q\nwant\n%q", got, want)
	}
}

func TestRepoRelativeCutsWhereTheBinaryWasBuilt(t *testing.T) {
	for in, want := range map[string]string{
		"/check/work/main/suites/lb_test.go": "suites/lb_test.go",
		"/a/suites/b/suites/etcd_test.go":    "suites/etcd_test.go",
		"/elsewhere/x_test.go":               "x_test.go",
	} {
		if got := repoRelative(in); got != want {
			t.Errorf("repoRelative(%q) = %q, want %q", in, got, want)
		}
	}
}
