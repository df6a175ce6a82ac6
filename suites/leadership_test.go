package suites

import (
	"testing"
	"time"
)

const leadershipLog = `2026-11-26T06:26:50.100000000Z stderr F I1126 06:26:50.100000       1 leaderelection.go:272] "Successfully acquired lease" lock="kube-system/kube-scheduler"
2026-11-26T06:26:53.923491000Z stderr F I1126 06:26:53.923491       1 leaderelection.go:304] "Failed to renew lease" lock="kube-system/kube-scheduler" err="context deadline exceeded"
2026-11-26T06:26:53.930000000Z stderr F E1126 06:26:53.930000       1 server.go:300] "Leaderelection lost"
not a CRI line
`

func TestParseLeadershipLines(t *testing.T) {
	lines := parseLeadershipLines("cp1", []byte(leadershipLog))
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %d: %+v", len(lines), lines)
	}
	if !lines[0].Acquired || lines[1].Acquired || lines[2].Acquired {
		t.Errorf("acquired flags wrong: %+v", lines)
	}
	if want := time.Date(2026, 11, 26, 6, 26, 53, 923491000, time.UTC); !lines[1].At.Equal(want) {
		t.Errorf("time %s, want %s", lines[1].At, want)
	}
}

func TestFindHandover(t *testing.T) {
	at := func(s float64) time.Time { return time.Unix(1000, 0).Add(time.Duration(s * float64(time.Second))) }
	since := at(10)
	for _, tc := range []struct {
		name              string
		lines             []leadershipLine
		stepped, acquired bool
		gap               time.Duration
	}{
		{"clean handover", []leadershipLine{
			{Node: "cp1", At: at(1), Acquired: true}, // before the fault: ignored
			{Node: "cp1", At: at(14), Acquired: false},
			{Node: "cp2", At: at(16), Acquired: true},
			{Node: "cp3", At: at(30), Acquired: true},
		}, true, true, 2 * time.Second},
		{"successor before the deposed leader stepped down", []leadershipLine{
			{Node: "cp2", At: at(12), Acquired: true},
			{Node: "cp1", At: at(13.5), Acquired: false},
		}, true, true, -1500 * time.Millisecond},
		{"deposed leader never stepped down", []leadershipLine{
			{Node: "cp2", At: at(12), Acquired: true},
		}, false, true, 0},
	} {
		h, stepped, acquired := findHandover(tc.lines, "cp1", since)
		if stepped != tc.stepped || acquired != tc.acquired {
			t.Errorf("%s: stepped %v acquired %v, want %v %v", tc.name, stepped, acquired, tc.stepped, tc.acquired)
			continue
		}
		if stepped && acquired {
			if gap := h.Acquired.Sub(h.SteppedDown); gap != tc.gap {
				t.Errorf("%s: gap %s, want %s", tc.name, gap, tc.gap)
			}
		}
	}
}
