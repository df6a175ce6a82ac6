// Command hachaos brings an HA Kubernetes topology up and down from a Spec file, runs
// planned events under the disruption monitor, and builds and compares the reports.
// "hachaos help" lists the commands (usage, in cli.go) and the exit statuses.
//
// The Spec is checked before anything is created; Ctrl-C cancels cleanly.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hachaos/hachaos/fault"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/dataplane"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/kind"
)

func main() {
	os.Exit(exitStatus(run(os.Args[1:]), os.Stderr))
}

var commands = map[string]func(ctx context.Context, spec topology.Spec) error{
	"up":       up,
	"down":     down,
	"status":   status,
	"recover":  recoverLeftovers,
	"faults":   listFaults,
	"validate": validate,
	"kubernetes-version": func(_ context.Context, spec topology.Spec) error {
		fmt.Println(spec.Kubernetes.Version)
		return nil
	},
	"cluster-name": func(_ context.Context, spec topology.Spec) error {
		fmt.Println(spec.Name)
		return nil
	},
}

func run(args []string) error {
	if isHelp(args) {
		fmt.Print(usage)
		return nil
	}
	if len(args) > 0 && args[0] == "expect-detected" {
		return expectDetected(args[1:])
	}
	if len(args) > 0 && args[0] == "report" {
		return report(args[1:])
	}
	if len(args) == 2 && args[0] == "exit-status" {
		res, err := reports.ReadResults(args[1])
		if err != nil {
			return err
		}
		os.Exit(res.ExitStatus())
	}
	if len(args) == 3 && args[0] == "expect-not-in-effect" && args[1] == "--report" {
		return expectNotInEffect(args[2])
	}
	if len(args) > 0 && args[0] == "rolling-restart" {
		return rollingRestartCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "upgrade" {
		return upgradeCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "run" {
		return runCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "list" {
		return listCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "monitor" {
		return monitorCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "soak" {
		return soakCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "nemesis" {
		return nemesisCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "derive-config" {
		return deriveConfig(args[1:])
	}
	if len(args) == 1 && args[0] == "version" {
		return version()
	}
	if len(args) > 0 && args[0] == "explain" {
		return explain(args[1:])
	}
	if len(args) > 0 && args[0] == "discover" {
		return discover(args[1:])
	}
	if len(args) > 0 && args[0] == "compare" {
		return compare(args[1:])
	}
	if len(args) > 0 && args[0] == "merge" {
		return merge(args[1:])
	}
	if len(args) == 2 && args[0] == "annotate" {
		res, err := reports.ReadResults(args[1])
		if err != nil {
			return err
		}
		for _, a := range reports.GitHubAnnotations(res) {
			fmt.Println(a)
		}
		return nil
	}
	if len(args) == 2 && args[0] == "scan-secrets" {
		return scanSecrets(args[1])
	}
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return usageError{"no command given"}
	}
	if commands[args[0]] == nil {
		return usageError{fmt.Sprintf("unknown command %q, or wrong arguments for it", args[0])}
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	config := fs.String("config", "hachaos.yaml", "topology Spec file")
	if _, err := parseArgs(fs, args[1:], 0); err != nil {
		return err
	}
	spec, err := topology.Load(*config)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return commands[args[0]](ctx, spec)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func up(ctx context.Context, spec topology.Spec) error {
	return withLock(spec, func(p *kind.Provider) error {
		start := time.Now()
		if err := recoverWith(ctx, p); err != nil {
			return err
		}
		reused, err := cluster.Up(ctx, spec, p, progress)
		if err != nil {
			return err
		}
		if err := monitor.RemoveAPILeftovers(ctx, p, progress); err != nil {
			return err
		}
		if err := deployDataPlane(ctx, spec, p); err != nil {
			return err
		}
		verb := "created"
		if reused {
			verb = "reused"
		}
		progress("topology %q %s and ready in %s; export KUBECONFIG=%s", spec.Name, verb, time.Since(start).Round(time.Second), p.KubeconfigPath())
		return nil
	})
}

// deployDataPlane deploys the data-plane workload as it should be (package dataplane),
// so a monitored run or a soak on this topology probes it too; no workers, nothing.
func deployDataPlane(ctx context.Context, spec topology.Spec, p *kind.Provider) error {
	workers, err := nodeNamesOf(ctx, p, topology.RoleWorker)
	if err != nil || len(workers) == 0 {
		return err
	}
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	progress("data plane: deploying %s/%s on %s (up to waits.componentRestart %s)", dataplane.Namespace, dataplane.Service, strings.Join(workers, ", "), spec.Waits.ComponentRestart)
	w, err := dataplane.Deploy(ctx, c, dataplane.Options{Workers: workers}, spec.Waits.ComponentRestart.Duration)
	if err != nil {
		return err
	}
	progress("data plane: serving on %d NodePorts (%s)", len(w.Targets), w.Image)
	return nil
}

// recoverLeftovers undoes every fault in the topology's ledger: what a run that was
// killed (SIGKILL, a crash, a lost machine) injected and could not recover.
func recoverLeftovers(ctx context.Context, spec topology.Spec) error {
	return withLock(spec, func(p *kind.Provider) error { return recoverWith(ctx, p) })
}

// withLock runs do with the topology's provider while holding its run lock.
func withLock(spec topology.Spec, do func(p *kind.Provider) error) error {
	p, err := kind.New(spec, kind.WithProgress(progress))
	if err != nil {
		return err
	}
	unlock, err := p.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return do(p)
}

func recoverWith(ctx context.Context, p *kind.Provider) error {
	exists, err := p.Exists(ctx)
	if err != nil || !exists {
		return err
	}
	recovered, err := fault.NewInjector(fault.OpenLedger(p.LedgerPath()), p).RecoverLeftovers(ctx)
	for _, r := range recovered {
		progress("recovered a fault left by an earlier run: %s", r)
	}
	if err != nil {
		return fmt.Errorf("recover faults left by an earlier run: %w", err)
	}
	return nil
}

// listFaults prints the ledger: one line per fault injected and not yet recovered.
func listFaults(_ context.Context, spec topology.Spec) error {
	p, err := kind.New(spec)
	if err != nil {
		return err
	}
	entries, err := fault.OpenLedger(p.LedgerPath()).Entries()
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Printf("%s\t%s\t%s\tinjected %s\n", e.Record.Kind, e.Record.Target, formatParams(e.Record.Params), e.InjectedAt.Format(time.RFC3339))
	}
	return nil
}

func formatParams(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for _, k := range keys {
		out += k + "=" + params[k] + " "
	}
	if out == "" {
		return "-"
	}
	return strings.TrimSpace(out)
}

func down(ctx context.Context, spec topology.Spec) error {
	return withLock(spec, func(p *kind.Provider) error { return p.Delete(ctx) })
}

func status(ctx context.Context, spec topology.Spec) error {
	p, err := kind.New(spec, kind.WithProgress(progress))
	if err != nil {
		return err
	}
	gate := cluster.NewGate(spec, p)
	unmet := map[string]error{}
	for _, u := range gate.Check(ctx) {
		unmet[u.Name] = u.Reason
	}
	for _, c := range gate.Conditions() {
		if err := unmet[c.Name]; err != nil {
			fmt.Printf("✘ %s: %v\n", c.Name, err)
		} else {
			fmt.Printf("✔ %s\n", c.Name)
		}
	}
	if len(unmet) > 0 {
		return notReady{fmt.Errorf("%d of %d readiness conditions unmet", len(unmet), len(gate.Conditions()))}
	}
	return nil
}

func validate(_ context.Context, spec topology.Spec) error {
	out, err := json.MarshalIndent(struct {
		Spec     topology.Spec     `json:"spec"`
		Timeouts topology.Timeouts `json:"resolvedTimeouts"`
	}{spec, spec.ResolvedTimeouts()}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// expectDetected is the verdict of a negative control (see reports.ExpectDetected).
func expectDetected(args []string) error {
	fs := flag.NewFlagSet("expect-detected", flag.ContinueOnError)
	report := fs.String("report", "", "Ginkgo JSON report of the sabotaged run")
	spec := fs.String("spec", "", "text of the spec that must fail")
	reason := fs.String("reason", "", "text its failure message must contain")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *report == "" || *spec == "" || *reason == "" {
		return usageError{"expect-detected needs --report, --spec and --reason"}
	}
	r, err := reports.ReadGinkgoJSON(*report)
	if err != nil {
		return err
	}
	if err := reports.ExpectDetected(r, *spec, *reason); err != nil {
		return checkFailed{err}
	}
	fmt.Printf("detected: %q failed mentioning %q\n", *spec, *reason)
	return nil
}

// expectNotInEffect checks the self-check run's report (reports.ExpectNotInEffect).
func expectNotInEffect(path string) error {
	r, err := reports.ReadGinkgoJSON(path)
	if err != nil {
		return err
	}
	right, err := reports.ExpectNotInEffect(r)
	for _, line := range right {
		fmt.Println("fault not in effect, as it must be:", line)
	}
	if err != nil {
		return checkFailed{err}
	}
	fmt.Printf("self-check: all %d fault specs reported \"fault not in effect\" with their faults disabled\n", len(right))
	return nil
}

// scanSecrets fails when an artifacts folder holds a secret (see reports.ScanSecrets).
func scanSecrets(dir string) error {
	findings, err := reports.ScanSecrets(dir)
	if err != nil {
		return err
	}
	if len(findings) > 0 {
		for _, f := range findings {
			fmt.Fprintln(os.Stderr, f)
		}
		return fmt.Errorf("%d secrets found in %s", len(findings), dir)
	}
	fmt.Printf("scan-secrets: no private keys, tokens or credentials in %s\n", dir)
	return nil
}
