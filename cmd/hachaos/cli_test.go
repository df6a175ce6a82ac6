package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseArgsTakesFlagsAnywhere(t *testing.T) {
	cases := []struct {
		args     []string
		want     int
		baseline string
		pos      []string
		err      string
	}{
		{[]string{"--baseline", "b.json", "dir"}, 1, "b.json", []string{"dir"}, ""},
		{[]string{"dir", "--baseline", "b.json"}, 1, "b.json", []string{"dir"}, ""}, // Go's flag package ignored this one
		{[]string{"a", "--baseline=b", "c"}, 2, "b", []string{"a", "c"}, ""},
		{[]string{"--", "-not-a-flag"}, 1, "", []string{"-not-a-flag"}, ""},
		{[]string{"dir", "extra"}, 1, "", nil, "takes 1 argument(s), got 2"},
		{[]string{"dir", "--unknown"}, 1, "", nil, "flag provided but not defined: -unknown"},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("report", flag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		baseline := fs.String("baseline", "", "")
		pos, err := parseArgs(fs, c.args, c.want)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.err)
		case c.err == "" && (err != nil || *baseline != c.baseline || !reflect.DeepEqual(pos, c.pos)):
			t.Errorf("%q: %q, --baseline %q, %v; want %q, %q", c.args, pos, *baseline, err, c.pos, c.baseline)
		}
	}
}

func TestHelpExitsZeroAndErrorsSayHowBad(t *testing.T) {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.String("config", "hachaos.yaml", "topology Spec file")
	_, helpErr := parseArgs(fs, []string{"dir", "-h"}, 1)
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"done", nil, exitOK},
		{"-h on a command", helpErr, exitOK},
		{"usage", usageError{"unknown command \"upp\""}, exitHarness},
		{"a harness error", errors.New("docker: not found"), exitHarness},
		{"a failed comparison", checkFailed{errors.New("comparison failed")}, exitFailed},
		{"a control not detected, wrapped", errors.Join(errors.New("control"), checkFailed{errors.New("not detected")}), exitFailed},
		{"not ready", notReady{errors.New("1 of 9 readiness conditions unmet")}, exitNotReady},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		if got := exitStatus(c.err, &stderr); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
		if (c.want == exitOK) != (stderr.Len() == 0) {
			t.Errorf("%s: stderr %q", c.name, stderr.String())
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		if !isHelp(args) {
			t.Errorf("%q is not taken as help", args)
		}
	}
}

// Every command run dispatches is in the usage hachaos help prints.
func TestUsageListsEveryCommand(t *testing.T) {
	names := []string{"expect-detected", "report", "exit-status", "expect-not-in-effect", "rolling-restart", "upgrade", "monitor", "derive-config", "compare", "scan-secrets", "discover", "version", "explain", "soak", "nemesis", "merge"}
	for name := range commands {
		names = append(names, name)
	}
	for _, name := range names {
		if !strings.Contains(usage, "\n  "+name+" ") {
			t.Errorf("hachaos help does not list %q", name)
		}
	}
}

func TestRunRefusesBadFlagsAllAtOnce(t *testing.T) {
	_, err := parseRunArgs([]string{"--trials", "0", "--timeout", "0s", "--config", "/nonexistent/spec.yaml", "--suites", "/nonexistent/hachaos-suites"})
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"--trials: must be between 1 and", "--timeout: must be above 0", "/nonexistent/spec.yaml", "--suites: /nonexistent/hachaos-suites is not an executable file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if got := exitStatus(err, io.Discard); got != exitHarness {
		t.Errorf("exit status %d, want %d", got, exitHarness)
	}
}

func TestSuitesArgsKeepGinkgosTimeoutInsideGos(t *testing.T) {
	args := strings.Join(suitesArgs(runOptions{timeout: 30 * time.Minute, labels: "lb && !graceful", focus: "frozen"}, "/a"), " ")
	for _, want := range []string{"-test.run=^TestE2E$", "-test.timeout=35m0s", "-ginkgo.timeout=30m0s", "-ginkgo.json-report=/a/report.json", "-ginkgo.label-filter=lb && !graceful", "-ginkgo.focus=frozen"} {
		if !strings.Contains(args, want) {
			t.Errorf("suites arguments %q lack %q", args, want)
		}
	}
}
