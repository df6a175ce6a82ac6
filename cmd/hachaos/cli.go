package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/hachaos/hachaos/reports"
)

// Exit statuses, as the README documents them (and scripts/chaos.sh and exit-status
// use the same numbers for a run's verdicts).
const (
	exitOK       = 0 // the command did what it was asked; every check it ran passed
	exitFailed   = 1 // a check the command ran failed: a guarantee broken, a comparison failed, a control not detected
	exitHarness  = 2 // bad input (usage, Spec) or a harness error: nothing was judged
	exitNotReady = 3 // the cluster is not ready (status), or only inconclusive verdicts (exit-status)
)

// usageError is a command line hachaos cannot run: exit 2, with the usage hint.
type usageError struct{ msg string }

func (e usageError) Error() string {
	return e.msg + " (hachaos --help lists the commands, COMMAND --help its flags)"
}

// checkFailed is a check the command ran that failed, as opposed to the command itself
// failing: exit 1.
type checkFailed struct{ error }

func (e checkFailed) Unwrap() error { return e.error }

// notReady is a cluster that did not pass its readiness gate: exit 3.
type notReady struct{ error }

func (e notReady) Unwrap() error { return e.error }

// exitByVerdicts is a command that ran to its end and exits by what it judged (the
// verdicts' exit status, as exit-status prints it): nothing more to say on stderr, the
// command's own output and reports said it.
type exitByVerdicts struct{ status int }

func (e exitByVerdicts) Error() string {
	return fmt.Sprintf("exit status %d by the verdicts", e.status)
}

// exitStatus prints err (if any) and says how hachaos exits for it.
func exitStatus(err error, stderr io.Writer) int {
	var byVerdicts exitByVerdicts
	if err != nil && !errors.As(err, &byVerdicts) {
		fmt.Fprintf(stderr, "hachaos: %v\n", err)
	}
	return statusOf(err)
}

// statusOf is the exit status hachaos gives err.
func statusOf(err error) int {
	var byVerdicts exitByVerdicts
	var failed checkFailed
	var unready notReady
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &byVerdicts):
		return byVerdicts.status
	case errors.As(err, &failed):
		return exitFailed
	case errors.As(err, &unready):
		return exitNotReady
	}
	return exitHarness
}

// harness is this build of hachaos, from the module and VCS information Go embeds.
func harness() reports.Harness {
	h := reports.Harness{Version: "devel"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return h
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		h.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			h.Commit = s.Value
		case "vcs.modified":
			h.Modified = s.Value == "true"
		}
	}
	return h
}

// byVerdicts is the error a command returns for a verdicts' exit status: nil for 0.
func byVerdicts(status int) error {
	if status == exitOK {
		return nil
	}
	return exitByVerdicts{status}
}

// version prints this build of hachaos (hachaos version), as results.json records it
// with asJSON.
func version(asJSON bool) error {
	h := harness()
	if asJSON {
		return printJSON(h)
	}
	fmt.Printf("hachaos %s%s\n", h.Version, map[bool]string{true: " (modified)", false: ""}[h.Modified])
	if h.Commit != "" {
		fmt.Println("commit", h.Commit)
	}
	return nil
}

// printJSON prints v as indented JSON on stdout (-o json).
func printJSON(v any) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}
