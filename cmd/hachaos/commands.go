package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hachaos/hachaos/internal/exec"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
)

// The command groups hachaos --help lists, in this order.
var commandGroups = []*cobra.Group{
	{ID: "topology", Title: "Topology (each takes --config FILE, default hachaos.yaml):"},
	{ID: "suites", Title: "The suites (from the test binary make build writes beside hachaos: no Go, no source needed):"},
	{ID: "existing", Title: "Clusters hachaos did not create (read only, so far):"},
	{ID: "events", Title: "Planned events and seeded random faults under the disruption monitor:"},
	{ID: "reports", Title: "Reports:"},
	{ID: "controls", Title: "Negative controls and self-checks (make chaos-negative*, make chaos-selfcheck):"},
	{ID: "about", Title: "About hachaos:"},
}

// exitStatusHelp ends hachaos --help: the exit statuses scripts and CI rely on.
const exitStatusHelp = `
Exit status: 0 done, every check passed; 1 a check failed (a guarantee broken, a
comparison, a negative control not detected); 2 bad input or a harness error;
3 the cluster not ready, or nothing proven (fault not in effect, environment not ready).
`

// newRootCommand is hachaos' command tree. Errors are returned, not printed: main prints
// them once and picks the exit status (exitStatus); a bad flag or argument count is a
// usageError (exit 2).
func newRootCommand() *cobra.Command {
	var verbose, quiet bool
	root := &cobra.Command{
		Use:   "hachaos",
		Short: "chaos and failover tests for highly available Kubernetes",
		Long: `hachaos: chaos and failover tests for highly available Kubernetes.

It brings an HA topology up from a Spec, runs its fault specs (every verdict one of
passed, guarantee broken, did not recover, fault not in effect, environment not ready),
runs planned events under a disruption monitor, and builds and compares the reports.
` + exitStatusHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if verbose && quiet {
				return usageError{"-v and -q: pick one"}
			}
			setVerbosity(verbose, quiet)
			return nil
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "also print every command hachaos runs in a node (docker exec) and every node action, with its duration and outcome; the suites print Ginkgo's full progress")
	root.PersistentFlags().BoolVarP(&quiet, "quiet", "q", false, "print no progress lines, only errors and what the command outputs")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Sprintf("%s: %v", c.CommandPath(), err)}
	})
	cobra.EnableCommandSorting = false // listed in the order of a run: up, run, report, down
	root.AddGroup(commandGroups...)
	root.SetHelpCommandGroupID("about")
	root.SetCompletionCommandGroupID("about")
	for _, c := range []*cobra.Command{
		specCommand("up", "create the topology, or reuse a running one created from the same Spec that is ready", up),
		specCommand("down", "delete everything the topology created", down),
		specDataCommand("status", "check the readiness gate once (exit 3 when a condition is unmet)", "each condition with met and its reason", status),
		specCommand("recover", "undo faults an interrupted or killed run left behind", recoverLeftovers),
		specDataCommand("faults", "list the faults injected and not yet recovered", "the ledger's entries", listFaults),
		specCommand("validate", "check the Spec (every problem at once) and print it with the resolved timeouts", validate),
		specCommand("kubernetes-version", "print the Spec's Kubernetes version (for make images)", printKubernetesVersion),
		specCommand("cluster-name", "print the Spec's topology name (for scripts)", printClusterName),
		newExplainCommand(),
		newRunCommand(), newListCommand(),
		newDiscoverCommand(),
		newRollingRestartCommand(), newUpgradeCommand(), newMonitorCommand(), newCertifyCommand(), newSoakCommand(), newNemesisCommand(),
		newReportCommand(), newCompareCommand(), newMergeCommand(), newAnnotateCommand(), newExitStatusCommand(),
		newDeriveConfigCommand(), newScanSecretsCommand(), newVersionCommand(),
		newExpectDetectedCommand(), newExpectNotInEffectCommand(),
	} {
		root.AddCommand(c)
	}
	return root
}

// specCommand is a topology command: it loads --config, checked before anything is
// created, and runs do with it; Ctrl-C cancels do's context.
func specCommand(name, short string, do func(ctx context.Context, spec topology.Spec) error) *cobra.Command {
	var config string
	c := &cobra.Command{
		Use:     name,
		Short:   short,
		GroupID: "topology",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return withSpec(config, do) },
	}
	addConfigFlag(c.Flags(), &config, "topology Spec file")
	return c
}

// specDataCommand is specCommand for a command whose output is data: -o json prints it
// for programs (do gets asJSON).
func specDataCommand(name, short, jsonMeans string, do func(ctx context.Context, spec topology.Spec, asJSON bool) error) *cobra.Command {
	var config, output string
	c := &cobra.Command{
		Use:     name,
		Short:   short,
		GroupID: "topology",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withSpec(config, func(ctx context.Context, spec topology.Spec) error { return do(ctx, spec, output == "json") })
		},
	}
	addConfigFlag(c.Flags(), &config, "topology Spec file")
	addOutputFlag(c.Flags(), &output, jsonMeans)
	return c
}

// withSpec loads the Spec at config and runs do with it; Ctrl-C cancels do's context.
func withSpec(config string, do func(ctx context.Context, spec topology.Spec) error) error {
	spec, err := topology.Load(config)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return do(ctx, spec)
}

// addConfigFlag adds --config, the Spec file every command that needs one reads.
func addConfigFlag(fs *pflag.FlagSet, config *string, usage string) {
	fs.StringVar(config, "config", "hachaos.yaml", usage)
}

// noArgs and exactArgs check a command's positional arguments; a wrong count is a
// usageError (exit 2) naming the command.
func noArgs(c *cobra.Command, args []string) error { return exactArgs(0)(c, args) }

func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Sprintf("%s takes %d argument(s), got %d %q", c.CommandPath(), n, len(args), args)}
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Sprintf("%s takes at least %d argument(s), got %d", c.CommandPath(), n, len(args))}
		}
		return nil
	}
}

// addOutputFlag adds -o/--output: text for people, json for programs.
func addOutputFlag(fs *pflag.FlagSet, output *string, jsonMeans string) {
	fs.StringVarP(output, "output", "o", "text", "output format: text or json ("+jsonMeans+")")
}

func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return usageError{fmt.Sprintf("-o/--output: must be text or json, got %q", output)}
	}
	return nil
}

func printKubernetesVersion(_ context.Context, spec topology.Spec) error {
	fmt.Println(spec.Kubernetes.Version)
	return nil
}

func printClusterName(_ context.Context, spec topology.Spec) error {
	fmt.Println(spec.Name)
	return nil
}

// resultsCommand is a command that reads one results.json and does something with it.
func resultsCommand(use, short string, do func(res reports.Results) error) *cobra.Command {
	return &cobra.Command{
		Use:     use + " RESULTS",
		Short:   short,
		GroupID: "reports",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			res, err := reports.ReadResults(args[0])
			if err != nil {
				return err
			}
			return do(res)
		},
	}
}

func newAnnotateCommand() *cobra.Command {
	return resultsCommand("annotate", "GitHub Actions annotations (::error/::warning at the spec's file and line) for every spec that did not pass",
		func(res reports.Results) error {
			for _, a := range reports.GitHubAnnotations(res) {
				fmt.Println(a)
			}
			return nil
		})
}

func newExitStatusCommand() *cobra.Command {
	return resultsCommand("exit-status", "exit 0 all passed, 1 a broken promise, 3 only inconclusive verdicts",
		func(res reports.Results) error { return byVerdicts(res.ExitStatus()) })
}

func newScanSecretsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "scan-secrets DIR",
		Short:   "fail if DIR holds a private key, token or credential (compressed files and base64 PEM included)",
		GroupID: "reports",
		Args:    exactArgs(1),
		RunE:    func(_ *cobra.Command, args []string) error { return scanSecrets(args[0]) },
	}
}

func newVersionCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "version",
		Short:   "this build of hachaos: version and commit",
		GroupID: "about",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return version(output == "json")
		},
	}
	addOutputFlag(c.Flags(), &output, "version, commit, modified: what results.json records")
	return c
}

func newExpectDetectedCommand() *cobra.Command {
	var o expectDetectedOptions
	c := &cobra.Command{
		Use:     "expect-detected --report R --spec S --reason T",
		Short:   "succeed only if spec S failed with a message containing T in Ginkgo JSON report R",
		GroupID: "controls",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return expectDetected(o) },
	}
	c.Flags().StringVar(&o.report, "report", "", "Ginkgo JSON report of the sabotaged run (required)")
	c.Flags().StringVar(&o.spec, "spec", "", "text of the spec that must fail (required)")
	c.Flags().StringVar(&o.reason, "reason", "", "text its failure message must contain (required)")
	return c
}

func newExpectNotInEffectCommand() *cobra.Command {
	var report string
	c := &cobra.Command{
		Use:     "expect-not-in-effect --report R",
		Short:   "succeed only if every fault spec in R ended \"fault not in effect\" (make chaos-selfcheck)",
		GroupID: "controls",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			if report == "" {
				return usageError{"expect-not-in-effect: --report: required"}
			}
			return expectNotInEffect(report)
		},
	}
	c.Flags().StringVar(&report, "report", "", "Ginkgo JSON report of the self-check run (required)")
	return c
}

// verbosity is how much hachaos says on stderr besides errors, set once from -v/-q
// before a command runs.
var verbosity = verbosityNormal

const (
	verbosityQuiet   = -1 // errors and the command's output only
	verbosityNormal  = 0  // also progress: which step, how long so far, what it waits for
	verbosityVerbose = 1  // also every command run, with its duration and exit status
)

func setVerbosity(verbose, quiet bool) {
	switch {
	case quiet:
		verbosity = verbosityQuiet
	case verbose:
		verbosity = verbosityVerbose
		exec.SetTrace(traceCommand)
	default:
		verbosity = verbosityNormal
	}
}

// traceCommand prints a command hachaos ran (-v).
func traceCommand(command string, took time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "failed: " + firstLine(err.Error())
	}
	progress("ran %s (%s, %s)", command, took.Round(time.Millisecond), outcome)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// verbosityFlags passes -v/-q on to a hachaos this one starts (soak's nemesis).
func verbosityFlags() []string {
	switch verbosity {
	case verbosityQuiet:
		return []string{"-q"}
	case verbosityVerbose:
		return []string{"-v"}
	}
	return nil
}

// progress prints one progress line on stderr, with the time, unless -q.
func progress(format string, args ...any) {
	if verbosity < verbosityNormal {
		return
	}
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// requireFlags is a usageError naming every required flag left empty, all at once.
func requireFlags(command string, values map[string]string) error {
	var missing []string
	for name, v := range values {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return usageError{fmt.Sprintf("%s: %s: required", command, strings.Join(missing, ", "))}
}
