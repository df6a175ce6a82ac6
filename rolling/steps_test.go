package rolling

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStepsRoundTripThroughTheEventsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steps.jsonl")
	t.Setenv(EventsFileEnv, path)
	s, err := OpenSteps()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	for _, st := range []Step{{At: at, Phase: PhaseBegin, Name: "node1: restart etcd"}, {At: at.Add(time.Second), Phase: PhaseEnd, Name: "node1: restart etcd"}} {
		if err := s.Write(st); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	got, err := ReadSteps(path)
	if err != nil || len(got) != 2 || !got[1].At.Equal(at.Add(time.Second)) || got[0].Phase != PhaseBegin {
		t.Fatalf("ReadSteps = %v, %v", got, err)
	}
}

func TestReadStepsNamesTheBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steps.jsonl")
	os.WriteFile(path, []byte(`{"at":"2026-12-01T13:00:00Z","phase":"begin","name":"drain"}`+"\n"+`{"phase":"middle","name":"x"}`+"\n"), 0o644)
	_, err := ReadSteps(path)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want line 2 named", err)
	}
}

func TestStepsWithoutAnEventsFileWriteNothing(t *testing.T) {
	t.Setenv(EventsFileEnv, "")
	s, err := OpenSteps()
	if err != nil || s.Write(Step{Name: "x", Phase: PhaseBegin}) != nil {
		t.Fatal("a command run outside the monitor must still work")
	}
}
