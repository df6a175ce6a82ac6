package dataplane

import (
	"strings"
	"testing"
	"time"

	"github.com/hachaos/hachaos/probe"
)

func series(failing func(at time.Duration) bool, end time.Duration) []probe.Sample {
	var out []probe.Sample
	for at := time.Duration(0); at < end; at += Every {
		s := probe.Sample{At: at, OK: true, Value: "hachaos-serve-x"}
		if failing != nil && failing(at) {
			s = probe.Sample{At: at, Error: "connection refused", Cause: probe.CauseRefused}
		}
		out = append(out, s)
	}
	return out
}

func TestJudgeServed(t *testing.T) {
	quiet := probe.Timeline{Series: map[string][]probe.Sample{PrefixSeries + "w1": series(nil, 10*time.Second), PrefixSeries + "w2": series(nil, 10*time.Second)}}
	if got := Workers(quiet); strings.Join(got, ",") != "w1,w2" {
		t.Fatalf("workers %v", got)
	}
	if m, _, problem := JudgeServed(quiet, Workers(quiet), 2*time.Second, 10*time.Second); problem != "" || m.Value != 0 {
		t.Fatalf("every request served: %v, problem %q", m, problem)
	}
	broken := quiet
	broken.Series = map[string][]probe.Sample{PrefixSeries + "w1": series(nil, 10*time.Second),
		PrefixSeries + "w2": series(func(at time.Duration) bool { return at >= 5*time.Second && at < 6*time.Second }, 10*time.Second)}
	m, _, problem := JudgeServed(broken, Workers(broken), 2*time.Second, 10*time.Second)
	if m.Value != 10 || !strings.Contains(problem, "must not depend on the control plane") || !strings.Contains(problem, "w2: 10 of 80") {
		t.Fatalf("10 failed requests on w2: measured %v, problem %q", m.Value, problem)
	}
	if _, _, problem := JudgeServed(quiet, []string{"w1", "w3"}, 2*time.Second, 10*time.Second); !strings.Contains(problem, "not shown to serve") {
		t.Fatalf("a worker never probed: problem %q", problem)
	}
}

// One timed-out request between two served ones is the machine's (CI, 2026-12-02); two
// in a row, or a refused one, count.
func TestJudgeServedCountsALoneTimeoutApart(t *testing.T) {
	timeoutAt := func(ats ...time.Duration) []probe.Sample {
		ss := series(nil, 10*time.Second)
		for i := range ss {
			for _, at := range ats {
				if ss[i].At == at {
					ss[i] = probe.Sample{At: at, Error: "context deadline exceeded", Cause: probe.CauseTimeout}
				}
			}
		}
		return ss
	}
	for _, tc := range []struct {
		name   string
		w2     []probe.Sample
		failed float64
	}{
		{"a lone timeout", timeoutAt(5 * time.Second), 0},
		{"two timeouts in a row", timeoutAt(5*time.Second, 5*time.Second+Every), 2},
		{"a lone refused connection", series(func(at time.Duration) bool { return at == 5*time.Second }, 10*time.Second), 1},
	} {
		tl := probe.Timeline{Series: map[string][]probe.Sample{PrefixSeries + "w1": series(nil, 10*time.Second), PrefixSeries + "w2": tc.w2}}
		m, _, problem := JudgeServed(tl, Workers(tl), 2*time.Second, 10*time.Second)
		if m.Value != tc.failed || (tc.failed == 0) != (problem == "") {
			t.Errorf("%s: measured %v failed, problem %q; want %v", tc.name, m.Value, problem, tc.failed)
		}
	}
}
