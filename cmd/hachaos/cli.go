package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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

// usage lists the commands; hachaos help (or -h, --help) prints it.
const usage = `hachaos: chaos and failover tests for highly available Kubernetes

Usage: hachaos COMMAND [flags] [arguments]   (flags may follow arguments; -h on any command lists its flags)

Topology (each takes --config FILE, default hachaos.yaml):
  up                  create the topology, or reuse a running one created from the same Spec that is ready
  down                delete everything the topology created
  status              check the readiness gate once (exit 3 when a condition is unmet)
  recover             undo faults an interrupted or killed run left behind
  faults              list the faults injected and not yet recovered
  validate            check the Spec and print the resolved timeouts
  explain [-o json]   every timing bound the Spec implies, with its value and formula (creates nothing)
  kubernetes-version  print the Spec's Kubernetes version (for make images)
  cluster-name        print the Spec's topology name (for scripts)

The suites (from the test binary make build writes beside hachaos: no Go, no source needed):
  run [--config F] [--artifacts DIR] [--labels L] [--focus RE] [--trials N] [--timeout D]
                      bring the topology up or reuse it, run the selected specs N times, write the reports;
                      exit by the verdicts (below). Ctrl-C stops the running spec, recovers its fault and
                      still writes the reports
  list [--labels L] [-o text|json]
                      the specs a label filter selects (a Ginkgo dry run), the fault kinds, and every
                      guarantee with its negative control (creates nothing)

Clusters hachaos did not create (read only, so far):
  discover [--kubeconfig K] [--context C]
                      the topology as the cluster's API shows it, checked against the Spec's expectations

Planned events under the disruption monitor:
  rolling-restart [--components etcd,kube-apiserver,…,kubelet]
                      restart every control plane in turn, as an upgrade rolls
  upgrade --to vX.Y.Z roll the running topology to another Kubernetes version, one node at a time
  monitor --artifacts DIR [--name N] [--traffic=false] -- COMMAND…
                      record the disruption monitor around COMMAND and judge it against the Spec's budgets

Seeded random faults (a nemesis) under the disruption monitor:
  soak --artifacts DIR [--seed S] [--duration D] [--only I,J] [--dry-run] [--shrink N]
                      draw a fault schedule from the seed (printed), run it round by round, judge every
                      guarantee over the whole run; --shrink replays sub-schedules of a failed run
  nemesis --schedule F
                      run a drawn schedule (what soak runs under the monitor; exit 4: not healthy after a round)

Reports:
  report [--baseline results.json] DIR   results.json, junit.xml, report.html, summary.md from DIR's Ginkgo report(s)
  compare BASE.json CAND.json            compare two results.json; fail on a broken guarantee or a p95 regression
  compare --side-by-side A.json B.json   judge nothing: both runs' p50 / p95 per guarantee, and the etcd layouts'
                                         reason where they differ (make compare-topologies)
  merge --out DIR SHARD…                 one run's reports from its shards' (each SHARD/results.json, same Spec
                                         and build); exit status by the merged verdicts, as exit-status
  annotate RESULTS                       GitHub Actions annotations (::error/::warning at the spec's file
                                         and line) for every spec that did not pass
  exit-status RESULTS                    exit 0 all passed, 1 a broken promise, 3 only inconclusive verdicts
  derive-config --name N --kubernetes vX.Y.Z|IMAGE --out F
                                         the Spec with another name and Kubernetes version (certify)
  scan-secrets DIR                       fail if DIR holds a private key, token or credential

  version             this build of hachaos: version and commit

Controls:
  expect-detected --report R --spec S --reason T
                      succeed only if spec S failed with a message containing T in Ginkgo JSON report R
  expect-not-in-effect --report R
                      succeed only if every fault spec in R ended "fault not in effect" (make chaos-selfcheck)

Exit status: 0 passed; 1 a check failed (a guarantee broken, a comparison, a control);
2 bad input or a harness error; 3 not ready, or nothing proven (fault not in effect).
`

// usageError is a command line hachaos cannot run: exit 2, with the usage hint.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + " (hachaos help lists the commands)" }

// checkFailed is a check the command ran that failed, as opposed to the command itself
// failing: exit 1.
type checkFailed struct{ error }

func (e checkFailed) Unwrap() error { return e.error }

// notReady is a cluster that did not pass its readiness gate: exit 3.
type notReady struct{ error }

func (e notReady) Unwrap() error { return e.error }

// exitStatus prints err (if any) and says how hachaos exits for it.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "hachaos: %v\n", err)
	var failed checkFailed
	var unready notReady
	switch {
	case errors.As(err, &failed):
		return exitFailed
	case errors.As(err, &unready):
		return exitNotReady
	}
	return exitHarness
}

// isHelp says whether args ask for the list of commands.
func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help")
}

// parseArgs parses fs's flags wherever they stand among args — "report DIR --baseline
// B" means what it says, as with kubectl — and returns the positional arguments, of
// which the command takes want (any number when want is negative); "--" ends the
// flags. A flag Go's flag package would silently leave unparsed after the first
// argument is never ignored.
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" { // asked for: output, not an error
			fs.SetOutput(os.Stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if stopped := len(args) - len(rest); stopped > 0 && args[stopped-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	if want >= 0 && len(positional) != want {
		return nil, usageError{fmt.Sprintf("%s takes %d argument(s), got %d %q", fs.Name(), want, len(positional), positional)}
	}
	return positional, nil
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

// version prints this build of hachaos (hachaos version).
func version() error {
	h := harness()
	fmt.Printf("hachaos %s%s\n", h.Version, map[bool]string{true: " (modified)", false: ""}[h.Modified])
	if h.Commit != "" {
		fmt.Println("commit", h.Commit)
	}
	return nil
}
