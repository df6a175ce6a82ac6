package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/dataplane"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/rolling"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/providers"
	"github.com/hachaos/hachaos/verdict"
)

// monitorOptions are monitor's flags.
type monitorOptions struct {
	config, artifacts, name string
	traffic, browser        bool
}

func newMonitorCommand() *cobra.Command {
	var o monitorOptions
	c := &cobra.Command{
		Use:   "monitor --artifacts DIR [--name N] [--traffic=false] -- COMMAND…",
		Short: "record the disruption monitor around COMMAND and judge it against the Spec's budgets",
		Long: `Record the disruption monitor around COMMAND (a user's upgrade script, a certificate
rotation, hachaos rolling-restart …) and judge it against the Spec's disruption budgets:
the readiness gate, the observation and traffic while COMMAND runs, the gate again after
it. Ctrl-C stops COMMAND and still writes the reports. Exit status as exit-status's.
Everything after the first argument is COMMAND's, flags included.`,
		GroupID: "events",
		Args:    minArgs(1),
		RunE:    func(_ *cobra.Command, args []string) error { return monitorCmd(o, args) },
	}
	c.Flags().SetInterspersed(false) // COMMAND's own flags are COMMAND's
	addConfigFlag(c.Flags(), &o.config, "topology Spec file (the disruption budgets)")
	c.Flags().StringVar(&o.artifacts, "artifacts", "", "folder for the timeline, history, command log and reports (required)")
	c.Flags().StringVar(&o.name, "name", "", "what the command does, for the reports (default: the command line)")
	c.Flags().BoolVar(&o.traffic, "traffic", true, "run etcd traffic and Kubernetes API traffic through the LB and check them (etcd: no acknowledged write lost, linearizable, write gap; API: linearizable per object, resourceVersions in order, consistent reads, watches complete)")
	c.Flags().BoolVar(&o.browser, "browser-check", true, "render report.html in headless Chromium and check it, as `hachaos report` does")
	return c
}

// monitorCmd runs a command under the disruption monitor: the readiness gate, then the
// standard observation (and etcd and API traffic) while the command runs, the gate again after
// it, and the judgement against the Spec's disruption budgets, written as the usual
// reports. Ctrl-C stops the command and still writes them. The exit status is
// `hachaos exit-status`'s: 0 passed, 1 a broken budget or guarantee, 3 inconclusive.
func monitorCmd(o monitorOptions, command []string) error {
	var problems []string
	if o.artifacts == "" {
		problems = append(problems, "--artifacts: required (where the reports go)")
	}
	spec, err := topology.Load(o.config)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return usageError{strings.Join(problems, "\n")}
	}
	if o.name == "" {
		o.name = "monitor: " + strings.Join(command, " ")
	}
	if err := os.MkdirAll(o.artifacts, 0o755); err != nil {
		return err
	}
	status, err := runMonitored(spec, o.artifacts, o.name, command, o.traffic)
	if err != nil {
		return err
	}
	if err := report(reportOptions{config: o.config, browser: o.browser}, o.artifacts); err != nil {
		return err
	}
	return byVerdicts(status)
}

// runMonitored records around the command and writes the Ginkgo-shaped report; it
// returns the run's exit status.
func runMonitored(spec topology.Spec, dir, name string, command []string, traffic bool) (int, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := providers.New(spec, progress)
	if err != nil {
		return 0, err
	}
	if err := writeRunInfo(ctx, dir, spec, p); err != nil {
		return 0, err
	}
	if err := monitor.RemoveAPILeftovers(ctx, p, progress); err != nil {
		return 0, err
	}
	started := time.Now()
	j, tlPath := monitorRun(ctx, spec, p, dir, name, command, traffic)
	sr := monitor.SpecReport(name, started, time.Now(), j, tlPath)
	if err := monitor.WriteGinkgoReport(dir, started, time.Now(), sr); err != nil {
		return 0, err
	}
	progress("%s: %s %s", name, j.Verdict, j.Reason)
	res := reports.Results{Specs: []reports.Spec{{Trials: []reports.Trial{{Verdict: string(j.Verdict)}}}}}
	return res.ExitStatus(), nil
}

// writeRunInfo writes spec.json (the Spec as loaded) and versions.json for the reports.
func writeRunInfo(ctx context.Context, dir string, spec topology.Spec, p cluster.Provider) error {
	if err := writeJSONFile(filepath.Join(dir, "spec.json"), spec); err != nil {
		return err
	}
	versions, err := monitor.ReadVersions(ctx, p)
	if err != nil {
		progress("versions unknown: %v", err)
		return nil
	}
	return writeJSONFile(filepath.Join(dir, "versions.json"), versions)
}

func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// monitorRun is gate → record → command → gate → judge; it returns the judgement and
// the saved timeline's path.
func monitorRun(ctx context.Context, spec topology.Spec, p cluster.Provider, dir, name string, command []string, traffic bool) (monitor.Judgement, string) {
	gate := cluster.NewGate(spec, p)
	progress("readiness gate before the command (up to waits.clusterReady %s)", spec.Waits.ClusterReady)
	if err := gate.Wait(ctx, spec.Waits.ClusterReady.Duration, spec.Waits.Poll.Duration, progress); err != nil {
		return monitor.Judgement{Verdict: verdict.EnvironmentNotReady, Reason: fmt.Sprintf("the readiness gate before the command failed: %v", err)}, ""
	}
	timings, err := cluster.ReadComponentTimings(ctx, p)
	if err != nil {
		return monitor.Judgement{Verdict: verdict.EnvironmentNotReady, Reason: fmt.Sprintf("read the running components' timing flags: %v", err)}, ""
	}
	dataPlane, err := dataPlaneTargets(ctx, p)
	if err != nil {
		return monitor.Judgement{Verdict: verdict.EnvironmentNotReady, Reason: err.Error()}, ""
	}
	obs, err := monitor.Start(ctx, monitor.Input{Spec: spec, Provider: p, Traffic: traffic, APITraffic: traffic, DataPlane: dataPlane})
	if err != nil {
		return monitor.Judgement{Verdict: verdict.EnvironmentNotReady, Reason: fmt.Sprintf("start the observation: %v", err)}, ""
	}
	defer obs.Close(context.Background())
	var r monitor.Recording
	r.Started = obs.Rec.Mark(probe.EventInject, "command starts: "+strings.Join(command, " "))
	eventsFile := filepath.Join(dir, "steps.jsonl")
	r.CommandErr = runCommand(ctx, dir, command, eventsFile)
	var exit *exec.ExitError
	if errors.As(r.CommandErr, &exit) && exit.ExitCode() == exitDidNotRecover {
		// the command says the cluster was not healthy again after one of its steps
		// (hachaos nemesis): not an incomplete command
		r.GateErr, r.CommandErr = r.CommandErr, nil
	}
	endedAt := time.Now()
	r.Ended = obs.Rec.Mark(probe.EventRecovering, "command ended")
	obs.Rec.Mark(probe.EventRecovered, "command ended")
	steps, err := markSteps(obs.Rec, eventsFile)
	if err != nil {
		progress("steps: %v", err)
	}
	if ctx.Err() == nil {
		progress("readiness gate after the command (up to waits.clusterReady %s)", spec.Waits.ClusterReady)
		r.GateErr = afterCommandGate(ctx, spec, p, gate, endedAt)
		if r.GateErr == nil {
			r.Healthy = obs.Rec.Mark(probe.EventHealthy, "every kubelet heartbeat fresh and the readiness gate passed")
		}
	} else {
		r.GateErr = errors.New("interrupted before the gate after the command")
	}
	r.Timeline, r.History = obs.End()
	r.API = obs.APIHistory()
	tlPath, err := monitor.SaveJSON(dir, "timelines", name, r.Timeline)
	if err != nil {
		progress("save the timeline: %v", err)
	}
	if len(r.API.Operations) > 0 {
		if _, err := monitor.SaveJSON(dir, "api-histories", name, r.API); err != nil {
			progress("save the API history: %v", err)
		}
	}
	checkEtcd(obs, &r, dir, name)
	bounds := topology.NewBounds(spec, timings)
	r.Allowances = allowances(steps, obs.Rec.Start(), spec, bounds)
	r.LeaseBounds = monitor.LeaseBounds(spec, bounds)
	return monitor.Judge(r, spec.Disruption.WithLB(spec.LoadBalancer), bounds.EtcdWriteGap(monitor.KVOpTimeout)), tlPath
}

// allowances are the steps whose end line says they restarted a stacked etcd member
// (on a stacked topology: the only restart clients through the LB cannot be shielded
// from), each allowed the Spec's StackedMemberLoss bound, from its begin to its end.
func allowances(steps []rolling.Step, start time.Time, spec topology.Spec, b topology.Bounds) []monitor.Allowance {
	if spec.Etcd.Mode != topology.EtcdStacked {
		return nil
	}
	began := map[string]time.Time{}
	var out []monitor.Allowance
	for _, s := range steps {
		if s.Phase == rolling.PhaseBegin {
			began[s.Name] = s.At
			continue
		}
		from, ok := began[s.Name]
		if !ok || !slices.Contains(s.Restarted, rolling.RestartedStackedEtcd) {
			continue
		}
		out = append(out, monitor.Allowance{Step: s.Name, From: from.Sub(start), To: s.At.Sub(start), Restarted: rolling.RestartedStackedEtcd, Bound: b.StackedMemberLoss()})
	}
	return out
}

// dataPlaneTargets are the data-plane workload's NodePorts, where the suites deployed it
// (none elsewhere: then the data plane is not judged, and the report says so).
func dataPlaneTargets(ctx context.Context, p cluster.Provider) ([]dataplane.Target, error) {
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return nil, err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	targets, err := dataplane.Discover(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		progress("data plane: no %s/%s Service (the suites deploy it): not probed", dataplane.Namespace, dataplane.Service)
	} else {
		progress("data plane: probing %d NodePorts", len(targets))
	}
	return targets, nil
}

// afterCommandGate: every kubelet has renewed its node Lease since the command ended
// (a restarted node counts only once it is back), then the readiness gate, together
// within waits.clusterReady.
func afterCommandGate(ctx context.Context, spec topology.Spec, p cluster.Provider, gate *cluster.Gate, ended time.Time) error {
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(spec.Waits.ClusterReady.Duration)
	if err := monitor.AwaitFreshHeartbeats(ctx, cfg, ended, spec.Waits.ClusterReady.Duration, spec.Waits.Poll.Duration); err != nil {
		return err
	}
	return gate.Wait(ctx, time.Until(deadline), spec.Waits.Poll.Duration, progress)
}

// checkEtcd reads every acknowledged write back and checks the history's
// linearizability (porcupine), saving the history beside the timeline.
func checkEtcd(obs *monitor.Observation, r *monitor.Recording, dir, name string) {
	if len(r.History.Operations) == 0 {
		return
	}
	if _, err := monitor.SaveJSON(dir, "histories", name, r.History); err != nil {
		progress("save the etcd history: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	missing, err := probe.MissingWrites(ctx, obs.Etcd(), obs.TrafficPrefix(), r.History)
	if err != nil {
		missing = []string{"could not read the writes back: " + err.Error()}
	}
	r.MissingWrites = missing
	res, err := probe.CheckLinearizable(r.History, time.Minute, filepath.Join(dir, "histories", "linearizability.html"))
	if err != nil {
		r.Linearizable = "not checked: " + err.Error()
		return
	}
	r.Linearizable = string(res)
}

// runCommand runs the command with its output on the terminal and in DIR/command.log;
// an interrupt (ctx) sends it SIGINT and, 30 s later, SIGKILL.
func runCommand(ctx context.Context, dir string, command []string, eventsFile string) error {
	logFile, err := os.Create(filepath.Join(dir, "command.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdout = io.MultiWriter(os.Stdout, logFile)
	cmd.Stderr = io.MultiWriter(os.Stderr, logFile)
	cmd.Env = append(os.Environ(), rolling.EventsFileEnv+"="+eventsFile)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	progress("running %s (steps it writes to $%s are drawn as bands)", strings.Join(command, " "), rolling.EventsFileEnv)
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted after %s (%v)", time.Since(start).Round(time.Second), err)
	case err != nil:
		return fmt.Errorf("%w after %s", err, time.Since(start).Round(time.Second))
	}
	progress("the command completed in %s", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// markSteps puts the steps the command wrote on the timeline, and returns them.
func markSteps(rec *probe.Recorder, path string) ([]rolling.Step, error) {
	steps, err := rolling.ReadSteps(path)
	for _, s := range steps {
		kind := probe.EventStepBegin
		if s.Phase == rolling.PhaseEnd {
			kind = probe.EventStepEnd
		}
		rec.MarkAt(s.At.Sub(rec.Start()), kind, s.Name)
	}
	return steps, err
}

func newRollingRestartCommand() *cobra.Command {
	var config string
	var components []string
	c := &cobra.Command{
		Use:     "rolling-restart [--components etcd,kube-apiserver,…,kubelet]",
		Short:   "restart every control plane in turn, as an upgrade rolls (run it under hachaos monitor)",
		GroupID: "events",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return rollingRestartCmd(config, components) },
	}
	addConfigFlag(c.Flags(), &config, "topology Spec file")
	c.Flags().StringSliceVar(&components, "components", nil, "what to restart on each node, comma-separated, in this order: "+strings.Join(rolling.Components, ",")+" (default all; etcd only when stacked)")
	return c
}

// rollingRestartCmd restarts every control-plane node in turn (package rolling).
func rollingRestartCmd(config string, only []string) error {
	spec, err := topology.Load(config)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return withSteps(spec, func(in rolling.Input) error { return rolling.RestartControlPlane(ctx, in, only) }, "rolling restart of every control plane")
}

func newUpgradeCommand() *cobra.Command {
	var config, to, patches string
	var stageOnly, staged bool
	c := &cobra.Command{
		Use:     "upgrade --to vX.Y.Z [--patches DIR] [--stage-only | --staged]",
		Short:   "roll the running topology to another Kubernetes version, one node at a time (run it under hachaos monitor)",
		GroupID: "events",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return upgradeCmd(config, to, patches, stageOnly, staged) },
	}
	addConfigFlag(c.Flags(), &config, "topology Spec file of the running (FROM) topology")
	c.Flags().StringVar(&to, "to", "", "the Kubernetes version to upgrade to, e.g. v1.37.2 (its images built: scripts/build-images.sh) (required)")
	c.Flags().BoolVar(&stageOnly, "stage-only", false, "only make TO's binaries and images available in every node (what an operator pre-pulls; certify runs it before the monitor starts)")
	c.Flags().BoolVar(&staged, "staged", false, "TO is already staged (--stage-only ran): go straight to the kubeadm steps")
	c.Flags().StringVar(&patches, "patches", "", "a folder of kubeadm patch files (target[suffix][+patchtype].json|yaml) every kubeadm upgrade applies, as kubeadm's own --patches")
	return c
}

// upgradeCmd rolls the running topology to another Kubernetes version in place
// (rolling.Upgrade), writing its steps for the monitor.
func upgradeCmd(config, to, patchDir string, stageOnly, staged bool) error {
	if err := requireFlags("upgrade", map[string]string{"--to": to}); err != nil {
		return err
	}
	if stageOnly && staged {
		return usageError{"upgrade: --stage-only and --staged: pick one"}
	}
	spec, err := topology.Load(config)
	if err != nil {
		return err
	}
	var patches rolling.Patches
	if patchDir != "" {
		if patches, err = rolling.LoadPatches(patchDir); err != nil {
			return usageError{err.Error()}
		}
		progress("every kubeadm upgrade applies the patches of %s: %s", patchDir, strings.Join(patches.Names(), ", "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if stageOnly {
		return withSteps(spec, func(in rolling.Input) error { return rolling.Stage(ctx, in, to) }, "staging "+to)
	}
	return withSteps(spec, func(in rolling.Input) error { return rolling.Upgrade(ctx, in, to, patches, staged) }, "upgrade to "+to)
}

// withSteps runs a rolling operation on the topology's provider with the monitor's
// steps file, holding the topology's lock, after recovering what an interrupted earlier
// run left stopped (an upgrade parks API servers and stops external etcd members through
// the fault ledger).
func withSteps(spec topology.Spec, do func(in rolling.Input) error, what string) error {
	return withLock(spec, func(p cluster.Local) error {
		if err := recoverWith(context.Background(), p); err != nil {
			return err
		}
		return runSteps(spec, p, do, what)
	})
}

// runSteps runs do with the monitor's steps file.
func runSteps(spec topology.Spec, p cluster.Local, do func(in rolling.Input) error, what string) error {
	steps, err := rolling.OpenSteps()
	if err != nil {
		return err
	}
	defer steps.Close()
	start := time.Now()
	if err := do(rolling.Input{Spec: spec, Provider: p, Progress: progress, Steps: steps}); err != nil {
		return err
	}
	progress("%s done in %s", what, time.Since(start).Round(time.Second))
	return nil
}
