package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
)

// The binaries make build writes beside hachaos: the suites compiled as a test binary
// (go test -c -tags e2e ./suites) and the static probe the security suite copies into
// the nodes. With them, hachaos run needs neither Go nor the source tree.
const (
	suitesBinaryName = "hachaos-suites"
	probeBinaryName  = "hachaos-probe"
)

// maxTrials keeps a typo (--trials 1000) from occupying a machine for days.
const maxTrials = 50

// runOptions is what hachaos run was asked for, checked before anything runs.
type runOptions struct {
	config, artifacts, labels, focus string
	trials                           int
	timeout                          time.Duration
	suites, probe                    string
	browser                          bool
	// dryRun lists what the selection would inject, where, and how it is recovered,
	// and creates nothing
	dryRun bool
	// confirmDisruptive names the Spec whose cluster hachaos did not create (provider
	// existing) and may still inject faults into
	confirmDisruptive string
}

func newRunCommand() *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "run",
		Short: "bring the topology up or reuse it, run the selected specs N times, write the reports; exit by the verdicts",
		Long: `Bring the topology up or reuse it, run the selected specs --trials times on it from the
prebuilt suites (no Go, no source needed), then scan the artifacts for secrets and write
report.html, results.json, junit.xml and summary.md. Ctrl-C stops the running spec,
recovers its fault and still writes the reports.
` + exitStatusHelp,
		GroupID: "suites",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if o.dryRun {
				return dryRun(o)
			}
			return runCmd(o)
		},
	}
	o.addFlags(c.Flags())
	return c
}

// addFlags binds run's flags to o.
func (o *runOptions) addFlags(fs *pflag.FlagSet) {
	addConfigFlag(fs, &o.config, "topology Spec file")
	fs.StringVar(&o.artifacts, "artifacts", "", "where the run's artifacts and reports go (default _artifacts/<time>)")
	fs.StringVar(&o.labels, "labels", "", "Ginkgo label filter, e.g. lb or 'etcd && !disruptive' (default: every spec)")
	fs.StringVar(&o.focus, "focus", "", "run only the specs whose full text matches this regular expression")
	fs.IntVar(&o.trials, "trials", 1, fmt.Sprintf("how many times every selected spec runs, on the same cluster (1–%d)", maxTrials))
	fs.DurationVar(&o.timeout, "timeout", 120*time.Minute, "Ginkgo's timeout for each trial: a stuck suite still ends with its report")
	fs.StringVar(&o.suites, "suites", "", "the suites' test binary (default: "+suitesBinaryName+" beside this hachaos; make build writes it)")
	fs.StringVar(&o.confirmDisruptive, "confirm-disruptive", "", "the Spec's name, to let disruptive specs inject faults into a cluster hachaos did not create (provider existing)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list every fault the selection would inject, on which node, and its recovery; create and inject nothing")
	fs.BoolVar(&o.browser, "browser-check", true, "render report.html in headless Chromium and check it, as hachaos report does")
}

// runCmd runs the suites from the prebuilt test binary: trials times on the same
// topology (brought up or reused by the suite), then the secrets scan and the reports,
// written whatever the suites' outcome. The exit status is by the verdicts: 0 all
// passed, 1 a promise broken, 3 only inconclusive verdicts, 2 a harness problem (a
// secret in the artifacts, reports that could not be built).
func runCmd(o runOptions) error {
	suitesFailed := false
	for i := 1; i <= o.trials; i++ {
		dir := o.artifacts
		if o.trials > 1 {
			dir = filepath.Join(o.artifacts, fmt.Sprintf("trial-%d", i))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		progress("trial %d of %d: suites%s → %s", i, o.trials, describeSelection(o), dir)
		ok, interrupted, err := runSuitesOnce(o, dir)
		if err != nil {
			return err
		}
		suitesFailed = suitesFailed || !ok
		if interrupted {
			progress("interrupted: no further trials; the reports cover what ran")
			break
		}
	}
	return finishRun(o, suitesFailed)
}

// check checks run's flags, every problem at once, and makes the paths absolute (the
// suites run in another folder).
func (o *runOptions) check() error {
	var problems []string
	if o.trials < 1 || o.trials > maxTrials {
		problems = append(problems, fmt.Sprintf("--trials: must be between 1 and %d, got %d", maxTrials, o.trials))
	}
	if o.timeout <= 0 {
		problems = append(problems, fmt.Sprintf("--timeout: must be above 0, got %s", o.timeout))
	}
	spec, specErr := topology.Load(o.config)
	if specErr != nil {
		problems = append(problems, specErr.Error())
	} else if abs, err := filepath.Abs(o.config); err == nil {
		o.config = abs
	}
	missing := o.findBinaries()
	problems = append(problems, missing...)
	if specErr == nil && len(missing) == 0 && !o.dryRun {
		if p := o.unconfirmedDisruption(spec); p != "" {
			problems = append(problems, p)
		}
	}
	if o.artifacts == "" {
		o.artifacts = filepath.Join("_artifacts", time.Now().Format("20060102-150405"))
	}
	if len(problems) > 0 {
		return usageError{strings.Join(problems, "\n")}
	}
	if o.dryRun {
		return nil // a dry run writes no artifacts
	}
	abs, err := filepath.Abs(o.artifacts)
	if err != nil {
		return err
	}
	o.artifacts = abs
	return os.MkdirAll(o.artifacts, 0o755)
}

// unconfirmedDisruption is why the run may not start on a cluster hachaos did not
// create: disruptive specs (each injects a fault) are selected and --confirm-disruptive
// does not name the Spec. "" when it may.
func (o *runOptions) unconfirmedDisruption(spec topology.Spec) string {
	if spec.Provider != topology.ProviderExisting || o.confirmDisruptive == spec.Name {
		return ""
	}
	if o.confirmDisruptive != "" {
		return fmt.Sprintf("--confirm-disruptive: %q is not the Spec's name %q", o.confirmDisruptive, spec.Name)
	}
	specs, err := dryRunSpecs(o.suites, o.labels, o.focus)
	if err != nil {
		return err.Error()
	}
	var disruptive []string
	for _, s := range specs {
		if slices.Contains(s.Labels, "disruptive") {
			disruptive = append(disruptive, s.Name)
		}
	}
	if len(disruptive) == 0 {
		return ""
	}
	return fmt.Sprintf("--confirm-disruptive: required: the selection holds %d disruptive specs (each injects a fault, e.g. %q) and the cluster behind %s is not one hachaos created; "+
		"add --confirm-disruptive=%s to run them there, or leave them out with --labels '!disruptive'", len(disruptive), disruptive[0], spec.Kubeconfig, spec.Name)
}

// findBinaries locates the suites' test binary and the probe; what is missing is named
// with the command that builds it.
func (o *runOptions) findBinaries() []string {
	self, err := os.Executable()
	if err != nil {
		return []string{fmt.Sprintf("find this hachaos binary: %v", err)}
	}
	dir := filepath.Dir(self)
	if o.suites == "" {
		o.suites = filepath.Join(dir, suitesBinaryName)
	}
	if abs, err := filepath.Abs(o.suites); err == nil {
		o.suites = abs // the suites run in another folder: a relative path would miss
	}
	o.probe = filepath.Join(filepath.Dir(o.suites), probeBinaryName)
	var problems []string
	for _, b := range []struct{ flag, path string }{{"--suites", o.suites}, {"the probe (beside the suites)", o.probe}} {
		if info, err := os.Stat(b.path); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			problems = append(problems, fmt.Sprintf("%s: %s is not an executable file (make build writes it)", b.flag, b.path))
		}
	}
	return problems
}

func describeSelection(o runOptions) string {
	var parts []string
	if o.labels != "" {
		parts = append(parts, fmt.Sprintf("labels '%s'", o.labels))
	}
	if o.focus != "" {
		parts = append(parts, fmt.Sprintf("focus '%s'", o.focus))
	}
	if len(parts) == 0 {
		return ""
	}
	return " with " + strings.Join(parts, " and ")
}

// runSuitesOnce runs one trial of the suites into dir. It says whether the suites
// passed and whether the run was interrupted. The suites run in a process group of
// their own: Ctrl-C reaches hachaos only, which passes it on exactly once, so Ginkgo
// sees one interrupt — stop the spec, recover its fault, write the report — and not
// the terminal's plus a forwarded second one.
func runSuitesOnce(o runOptions, dir string) (passed, interrupted bool, err error) {
	cmd := exec.Command(o.suites, suitesArgs(o, dir)...)
	cmd.Dir = filepath.Dir(o.suites)
	cmd.Env = append(os.Environ(), "HACHAOS_CONFIG="+o.config, "ARTIFACTS="+dir, "HACHAOS_PROBE="+o.probe)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		return false, false, fmt.Errorf("start the suites (%s): %w", o.suites, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-signals:
			interrupted = true
			progress("%s: passing it to the suites, which stop the running spec, recover its fault and write the report", s)
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				return false, interrupted, fmt.Errorf("run the suites: %w", err)
			}
			return err == nil, interrupted, nil
		}
	}
}

// suitesArgs are the test binary's arguments: only the Ginkgo suite (the package's unit
// tests are make unit's), its timeout inside go's so Ginkgo writes its report first.
func suitesArgs(o runOptions, dir string) []string {
	args := []string{
		"-test.run=^TestE2E$", "-test.v", fmt.Sprintf("-test.timeout=%s", o.timeout+5*time.Minute),
		fmt.Sprintf("-ginkgo.timeout=%s", o.timeout), "-ginkgo.json-report=" + filepath.Join(dir, "report.json"),
	}
	args = append(args, ginkgoVerbosity()...)
	if o.labels != "" {
		args = append(args, "-ginkgo.label-filter="+o.labels)
	}
	if o.focus != "" {
		args = append(args, "-ginkgo.focus="+o.focus)
	}
	return args
}

// ginkgoVerbosity is Ginkgo's output for hachaos' -q (a line per spec), the default
// (each spec's steps as it runs: -ginkgo.v) and -v (also every By and the timeline as
// recorded: -ginkgo.vv).
func ginkgoVerbosity() []string {
	switch verbosity {
	case verbosityQuiet:
		return []string{"-ginkgo.succinct"}
	case verbosityVerbose:
		return []string{"-ginkgo.vv"}
	}
	return []string{"-ginkgo.v"}
}

// finishRun scans the artifacts for secrets and builds the reports, then exits by the
// verdicts, as scripts/chaos.sh documents: a secret or a report that could not be built
// is a harness problem (2) whatever the verdicts; suites that failed without a failed
// verdict in the results (a BeforeSuite, a panic) count as a broken run (1).
func finishRun(o runOptions, suitesFailed bool) error {
	var problems []string
	if err := scanSecrets(o.artifacts); err != nil {
		problems = append(problems, err.Error())
	}
	if err := report(reportOptions{config: o.config, browser: o.browser}, o.artifacts); err != nil {
		problems = append(problems, "reports: "+err.Error())
	}
	progress("artifacts: %s (report.html, results.json, junit.xml, summary.md)", o.artifacts)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	res, err := reports.ReadResults(filepath.Join(o.artifacts, "results.json"))
	if err != nil {
		return err
	}
	status := res.ExitStatus()
	if suitesFailed && status == exitOK {
		return checkFailed{errors.New("the suites failed, but no spec's verdict says so: see the suites' output above")}
	}
	return byVerdicts(status)
}
