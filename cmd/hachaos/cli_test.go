package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hachaos/hachaos/reports"
)

// execute runs hachaos with args as main does and returns its exit status and what it
// printed (cobra's help and usage on out, errors on errOut).
func execute(args ...string) (status int, out, errOut string) {
	root := newRootCommand()
	var o, e bytes.Buffer
	root.SetOut(&o)
	root.SetErr(&e)
	root.SetArgs(args)
	status = exitStatus(root.Execute(), &e)
	return status, o.String(), e.String()
}

// resultsFile writes a results.json whose one spec ended in verdict.
func resultsFile(t *testing.T, verdict string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "results.json")
	data, err := json.Marshal(reports.Results{Schema: reports.ResultsSchema, Specs: []reports.Spec{{Name: "s", Trials: []reports.Trial{{Verdict: verdict}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The conventions kind, kubectl and Ginkgo set: --help exits 0 on every command, flags
// may follow arguments, and the exit status says what went wrong.
func TestCommandLineConventions(t *testing.T) {
	broken := resultsFile(t, "guarantee broken")
	cases := []struct {
		name   string
		args   []string
		status int
		says   string
	}{
		{"help", []string{"--help"}, exitOK, "Topology (each takes --config FILE"},
		{"help on a command", []string{"up", "--help"}, exitOK, "--config string"},
		{"help as a command", []string{"help", "run"}, exitOK, "--trials int"},
		{"no command: the help", nil, exitOK, "Usage:"},
		{"an unknown command", []string{"upp"}, exitHarness, `unknown command "upp"`},
		{"an unknown flag", []string{"up", "--confg", "x"}, exitHarness, "unknown flag: --confg"},
		{"a missing argument", []string{"report"}, exitHarness, "hachaos report takes 1 argument(s), got 0"},
		{"an argument too many", []string{"version", "now"}, exitHarness, "takes 0 argument(s)"},
		{"-v and -q", []string{"-v", "-q", "version"}, exitHarness, "-v and -q: pick one"},
		{"a flag after the argument", []string{"exit-status", broken, "--quiet"}, exitFailed, ""},
		{"a missing file", []string{"exit-status", "/nonexistent/results.json"}, exitHarness, "/nonexistent/results.json"},
		{"required flags, all named at once", []string{"derive-config", "--out", "x"}, exitHarness, "derive-config: --kubernetes, --name: required"},
		{"an output format", []string{"explain", "-o", "yaml"}, exitHarness, "-o/--output: must be text or json"},
	}
	for _, c := range cases {
		status, out, errOut := execute(c.args...)
		if status != c.status || !strings.Contains(out+errOut, c.says) {
			t.Errorf("%s: hachaos %q exited %d, printed\n%s%s\nwant exit %d and %q", c.name, c.args, status, out, errOut, c.status, c.says)
		}
	}
}

func TestExitStatusSaysHowBad(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"done", nil, exitOK},
		{"usage", usageError{"unknown command \"upp\""}, exitHarness},
		{"a harness error", errors.New("docker: not found"), exitHarness},
		{"a failed comparison", checkFailed{errors.New("comparison failed")}, exitFailed},
		{"a control not detected, wrapped", errors.Join(errors.New("control"), checkFailed{errors.New("not detected")}), exitFailed},
		{"not ready", notReady{errors.New("1 of 9 readiness conditions unmet")}, exitNotReady},
		{"by the verdicts", exitByVerdicts{exitNotReady}, exitNotReady},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		if got := exitStatus(c.err, &stderr); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
		_, quiet := c.err.(exitByVerdicts)
		if (c.want == exitOK || quiet) != (stderr.Len() == 0) {
			t.Errorf("%s: stderr %q", c.name, stderr.String())
		}
	}
}

// monitor's COMMAND keeps its own flags, with or without "--".
func TestMonitorLeavesTheCommandsFlagsAlone(t *testing.T) {
	for _, args := range [][]string{
		{"--artifacts", "d", "--", "sh", "-c", "x --config y"},
		{"--artifacts", "d", "sh", "-c", "x --config y"},
	} {
		c := newMonitorCommand()
		if err := c.ParseFlags(args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		artifacts, _ := c.Flags().GetString("artifacts")
		config, _ := c.Flags().GetString("config")
		if got := c.Flags().Args(); !reflect.DeepEqual(got, []string{"sh", "-c", "x --config y"}) || artifacts != "d" || config != "hachaos.yaml" {
			t.Errorf("%q: command %q, --artifacts %q, --config %q", args, got, artifacts, config)
		}
	}
}

func TestRunRefusesBadFlagsAllAtOnce(t *testing.T) {
	c := newRunCommand()
	if err := c.ParseFlags([]string{"--trials", "0", "--timeout", "0s", "--config", "/nonexistent/spec.yaml", "--suites", "/nonexistent/hachaos-suites"}); err != nil {
		t.Fatal(err)
	}
	err := c.RunE(c, nil)
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
	for _, want := range []string{"-test.run=^TestE2E$", "-test.timeout=35m0s", "-ginkgo.timeout=30m0s", "-ginkgo.json-report=/a/report.json", "-ginkgo.label-filter=lb && !graceful", "-ginkgo.focus=frozen", "-ginkgo.v"} {
		if !strings.Contains(args, want) {
			t.Errorf("suites arguments %q lack %q", args, want)
		}
	}
}

// Every command has a one-line description and is in a group of hachaos --help.
func TestEveryCommandIsDescribedAndGrouped(t *testing.T) {
	for _, c := range newRootCommand().Commands() {
		if c.Short == "" || c.GroupID == "" {
			t.Errorf("%s: short %q, group %q", c.Name(), c.Short, c.GroupID)
		}
	}
}
