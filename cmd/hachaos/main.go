// Command hachaos brings an HA Kubernetes topology up and down from a Spec file, runs
// planned events under the disruption monitor, and builds and compares the reports.
// "hachaos --help" lists the commands (commands.go) and the exit statuses; COMMAND
// --help lists a command's flags.
//
// The Spec is checked before anything is created; Ctrl-C cancels cleanly.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hachaos/hachaos/fault"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/dataplane"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/providers"
)

func main() {
	os.Exit(exitStatus(newRootCommand().Execute(), os.Stderr))
}

func up(ctx context.Context, spec topology.Spec) error {
	return withLock(spec, func(p cluster.Local) error {
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
func deployDataPlane(ctx context.Context, spec topology.Spec, p cluster.Local) error {
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
	return withLock(spec, func(p cluster.Local) error { return recoverWith(ctx, p) })
}

// withLock runs do with the topology's provider while holding its run lock.
func withLock(spec topology.Spec, do func(p cluster.Local) error) error {
	p, err := providers.New(spec, progress)
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

func recoverWith(ctx context.Context, p cluster.Local) error {
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
func listFaults(_ context.Context, spec topology.Spec, asJSON bool) error {
	p, err := providers.New(spec, progress)
	if err != nil {
		return err
	}
	entries, err := fault.OpenLedger(p.LedgerPath()).Entries()
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(append([]fault.Entry{}, entries...)) // [] for none, not null
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
	return withLock(spec, func(p cluster.Local) error { return p.Delete(ctx) })
}

// conditionStatus is one readiness condition as status -o json prints it.
type conditionStatus struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Reason string `json:"reason,omitempty"`
}

// printConditions prints the readiness conditions, a line each or as JSON.
func printConditions(conditions []conditionStatus, asJSON bool) error {
	if asJSON {
		return printJSON(conditions)
	}
	for _, c := range conditions {
		if c.Met {
			fmt.Printf("✔ %s\n", c.Name)
		} else {
			fmt.Printf("✘ %s: %s\n", c.Name, c.Reason)
		}
	}
	return nil
}

func status(ctx context.Context, spec topology.Spec, asJSON bool) error {
	p, err := providers.New(spec, progress)
	if err != nil {
		return err
	}
	gate := cluster.NewGate(spec, p)
	unmet := map[string]error{}
	for _, u := range gate.Check(ctx) {
		unmet[u.Name] = u.Reason
	}
	var conditions []conditionStatus
	for _, c := range gate.Conditions() {
		cs := conditionStatus{Name: c.Name, Met: unmet[c.Name] == nil}
		if !cs.Met {
			cs.Reason = unmet[c.Name].Error()
		}
		conditions = append(conditions, cs)
	}
	if err := printConditions(conditions, asJSON); err != nil {
		return err
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

// expectDetectedOptions are expect-detected's flags.
type expectDetectedOptions struct{ report, spec, reason string }

// expectDetected is the verdict of a negative control (see reports.ExpectDetected).
func expectDetected(o expectDetectedOptions) error {
	if err := requireFlags("expect-detected", map[string]string{"--report": o.report, "--spec": o.spec, "--reason": o.reason}); err != nil {
		return err
	}
	r, err := reports.ReadGinkgoJSON(o.report)
	if err != nil {
		return err
	}
	if err := reports.ExpectDetected(r, o.spec, o.reason); err != nil {
		return checkFailed{err}
	}
	fmt.Printf("detected: %q failed mentioning %q\n", o.spec, o.reason)
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
