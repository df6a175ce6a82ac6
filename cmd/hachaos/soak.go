package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/nemesis"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/rolling"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/providers"
	"github.com/hachaos/hachaos/verdict"
)

// exitDidNotRecover is the nemesis' exit status when the cluster was not healthy again
// after a round: the monitor then reports "did not recover", not an incomplete command.
const exitDidNotRecover = 4

// soakOptions are soak's flags.
type soakOptions struct {
	config, artifacts, only string
	seed                    uint64
	duration                time.Duration
	dryRun                  bool
	shrink                  int
}

func newSoakCommand() *cobra.Command {
	var o soakOptions
	c := &cobra.Command{
		Use:   "soak --artifacts DIR [--seed S] [--duration D] [--only I,J] [--dry-run] [--shrink N]",
		Short: "draw a seeded fault schedule (a nemesis), run it round by round under the monitor, judge every guarantee over the whole run",
		Long: `Draw a fault schedule from the seed (printed, with the command that replays it), run it
round by round under the disruption monitor, and judge every guarantee over the whole run.
With --shrink N, a run that broke a promise is replayed on sub-schedules (at most N runs)
and the smallest that still breaks it is printed; an inconclusive run is not shrunk.`,
		GroupID: "events",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return soakCmd(o) },
	}
	addConfigFlag(c.Flags(), &o.config, "topology Spec file")
	c.Flags().Uint64Var(&o.seed, "seed", 0, "the schedule's seed (default: drawn from the clock, and printed)")
	c.Flags().DurationVar(&o.duration, "duration", 20*time.Minute, "how long the schedule's rounds fill (the run takes longer: each round waits for the cluster to be healthy again)")
	c.Flags().StringVar(&o.artifacts, "artifacts", "", "folder for the schedule, timeline, histories and reports (required)")
	c.Flags().StringVar(&o.only, "only", "", "replay only these steps of the schedule (indexes, comma-separated)")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the schedule and its budget; inject nothing")
	c.Flags().IntVar(&o.shrink, "shrink", 0, "when the run broke a promise, replay sub-schedules (at most this many runs) and report the smallest that still breaks it")
	return c
}

// soakCmd draws the seeded schedule and runs it under the disruption monitor:
// `hachaos monitor` around `hachaos nemesis`, with a budget from the schedule's steps.
func soakCmd(o soakOptions) error {
	var problems []string
	spec, err := topology.Load(o.config)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if o.artifacts == "" && !o.dryRun {
		problems = append(problems, "--artifacts: required (where the reports go)")
	}
	if o.duration <= 0 || o.duration > topology.MaxDuration {
		problems = append(problems, fmt.Sprintf("--duration %s: must be positive and at most %s", o.duration, topology.MaxDuration))
	}
	keep, err := parseIndexes(o.only)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return usageError{strings.Join(problems, "\n")}
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	ctx := context.Background()
	p, err := providers.New(spec, progress)
	if err != nil {
		return err
	}
	s, err := drawFor(ctx, spec, p, o.seed, o.duration)
	if err != nil {
		return err
	}
	if keep != nil {
		s = s.Only(keep)
	}
	budget, why, err := soakBudget(ctx, spec, p, s)
	if err != nil {
		return err
	}
	fmt.Print(s)
	fmt.Printf("budget: %s\nreplay: %s\n", why, replayCommand(o.config, s, o.duration, keep))
	if o.dryRun {
		return nil
	}
	status, err := runSoak(spec, o.config, o.artifacts, s, budget)
	if err != nil || !worthShrinking(status) || o.shrink <= 0 {
		return soakExit(status, err)
	}
	return shrinkSoak(spec, o.config, o.artifacts, s, o.duration, o.shrink)
}

// drawFor draws the schedule on the topology's nodes.
func drawFor(ctx context.Context, spec topology.Spec, p cluster.Provider, seed uint64, d time.Duration) (nemesis.Schedule, error) {
	planes, err := nodeNamesOf(ctx, p, topology.RoleControlPlane)
	if err != nil {
		return nemesis.Schedule{}, err
	}
	members, err := nodeNamesOf(ctx, p, topology.RoleEtcd)
	if err != nil {
		return nemesis.Schedule{}, err
	}
	return nemesis.Draw(seed, d, nemesis.TargetsOf(spec, planes, members))
}

func nodeNamesOf(ctx context.Context, p cluster.Provider, role topology.Role) ([]string, error) {
	nodes, err := p.Nodes(ctx, role)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	slices.Sort(names)
	return names, nil
}

// soakBudget is the schedule's disruption budget, from the running components' timings.
func soakBudget(ctx context.Context, spec topology.Spec, p cluster.Provider, s nemesis.Schedule) (topology.DisruptionSpec, string, error) {
	timings := topology.DefaultComponentTimings()
	if exists, err := p.Exists(ctx); err == nil && exists {
		if timings, err = cluster.ReadComponentTimings(ctx, p); err != nil {
			return topology.DisruptionSpec{}, "", err
		}
	}
	b := topology.NewBounds(spec, timings)
	d, why := nemesis.Budget(s, b, spec.Etcd.Mode == topology.EtcdStacked, spec.Disruption.WithLB(spec.LoadBalancer), monitor.SampleEvery, monitor.SampleTimeout)
	return d, why, nil
}

func parseIndexes(list string) (map[int]bool, error) {
	if list == "" {
		return nil, nil
	}
	keep := map[int]bool{}
	for _, f := range strings.Split(list, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i < 0 {
			return nil, fmt.Errorf("--only %q: %q is not a step index (a number ≥ 0)", list, f)
		}
		keep[i] = true
	}
	return keep, nil
}

// replayCommand is the ready-to-run command that draws this (sub-)schedule again.
func replayCommand(config string, s nemesis.Schedule, d time.Duration, keep map[int]bool) string {
	cmd := fmt.Sprintf("make soak CONFIG=%s SEED=%d DURATION=%s", config, s.Seed, d)
	if keep != nil {
		var idx []string
		for _, st := range s.Steps() {
			idx = append(idx, strconv.Itoa(st.Index))
		}
		cmd += " ONLY=" + strings.Join(idx, ",")
	}
	return cmd
}

// runSoak saves the schedule and runs `hachaos nemesis` on it under the monitor; it
// returns the run's exit status.
func runSoak(spec topology.Spec, config, dir string, s nemesis.Schedule, budget topology.DisruptionSpec) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	file := filepath.Join(dir, "schedule.json")
	if err := writeJSONFile(file, s); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "schedule.txt"), []byte(s.String()), 0o644); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	spec.Disruption = budget
	name := fmt.Sprintf("soak: seed %d, %d steps in %d rounds", s.Seed, len(s.Steps()), len(s.Rounds))
	nemesis := append(append([]string{self}, verbosityFlags()...), "nemesis", "--config", config, "--schedule", file)
	status, err := runMonitored(spec, dir, name, nemesis, true)
	if err != nil {
		return 0, err
	}
	if err := report(reportOptions{config: config, browser: true}, dir); err != nil {
		return 0, err
	}
	return status, nil
}

// worthShrinking says whether a soak's exit status is a broken promise (a guarantee
// broken, or not healthy again in time), the only outcome a shorter schedule can
// reproduce. An inconclusive run (interrupted, not ready, a fault not in effect) proves
// nothing, so shrinking it would hunt for a failure that never was: neither the first
// run nor a replay counts as failing then.
func worthShrinking(status int) bool { return status == exitFailed }

func soakExit(status int, err error) error {
	if err != nil {
		return err
	}
	return byVerdicts(status)
}

// shrinkSoak replays sub-schedules of a failed soak (nemesis.Shrink), each a monitored
// run in a folder of its own, and prints the smallest that still failed as a command.
func shrinkSoak(spec topology.Spec, config, dir string, s nemesis.Schedule, d time.Duration, maxRuns int) error {
	var all []int
	for _, st := range s.Steps() {
		all = append(all, st.Index)
	}
	p, err := providers.New(spec, progress)
	if err != nil {
		return err
	}
	run := 0
	smallest, runs, err := nemesis.Shrink(all, maxRuns, func(keep []int) (bool, error) {
		run++
		sub := s.Only(indexSetOf(keep))
		budget, _, err := soakBudget(context.Background(), spec, p, sub)
		if err != nil {
			return false, err
		}
		progress("shrink: replay %d of at most %d, steps %v", run, maxRuns, keep)
		status, err := runSoak(spec, config, filepath.Join(dir, fmt.Sprintf("shrink-%02d", run)), sub, budget)
		return worthShrinking(status), err
	})
	if err != nil {
		return err
	}
	sub := s.Only(indexSetOf(smallest))
	fmt.Printf("shrunk in %d replays to %d of %d steps, still failing:\n%sreplay: %s\n", runs, len(smallest), len(all), sub, replayCommand(config, sub, d, indexSetOf(smallest)))
	return checkFailed{fmt.Errorf("the soak with seed %d failed (smallest failing sub-schedule above)", s.Seed)}
}

func indexSetOf(keep []int) map[int]bool {
	m := map[int]bool{}
	for _, i := range keep {
		m[i] = true
	}
	return m
}

func newNemesisCommand() *cobra.Command {
	var config, file string
	c := &cobra.Command{
		Use:     "nemesis --schedule F",
		Short:   "run a drawn schedule (what soak runs under the monitor; exit 4: not healthy after a round)",
		GroupID: "events",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return nemesisCmd(config, file) },
	}
	addConfigFlag(c.Flags(), &config, "topology Spec file")
	c.Flags().StringVar(&file, "schedule", "", "the schedule (schedule.json of hachaos soak) (required)")
	return c
}

// nemesisCmd runs a schedule (what `hachaos soak` runs under the monitor): round after
// round, each step through the fault ledger — injected, shown in effect, held,
// recovered — then the readiness gate, then the round's quiet gap. Ctrl-C recovers what
// is injected and stops; a run killed outright is recovered by the next one.
func nemesisCmd(config, file string) error {
	if err := requireFlags("nemesis", map[string]string{"--schedule": file}); err != nil {
		return err
	}
	spec, err := topology.Load(config)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return usageError{fmt.Sprintf("--schedule: %v", err)}
	}
	var s nemesis.Schedule
	if err := json.Unmarshal(data, &s); err != nil {
		return usageError{fmt.Sprintf("--schedule %s: %v", file, err)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return withLock(spec, func(p cluster.Local) error {
		if err := recoverWith(ctx, p); err != nil {
			return err
		}
		err := runSchedule(ctx, spec, p, s)
		var unhealthy roundUnhealthy
		if errors.As(err, &unhealthy) {
			fmt.Fprintf(os.Stderr, "hachaos: %v\n", err)
			return exitByVerdicts{exitDidNotRecover}
		}
		return err
	})
}

// roundUnhealthy is a round after which the cluster was not healthy again in time.
type roundUnhealthy struct{ error }

func runSchedule(ctx context.Context, spec topology.Spec, p cluster.Local, s nemesis.Schedule) error {
	steps, err := rolling.OpenSteps()
	if err != nil {
		return err
	}
	defer steps.Close()
	injector := fault.NewInjector(fault.OpenLedger(p.LedgerPath()), p)
	gate := cluster.NewGate(spec, p)
	start := time.Now()
	for i, r := range s.Rounds {
		progress("round %d of %d (%s so far): %d step(s)", i+1, len(s.Rounds), time.Since(start).Round(time.Second), len(r.Steps))
		if err := runRound(ctx, spec, p, injector, steps, r); err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		progress("round %d: waiting for the readiness gate (up to waits.clusterReady %s)", i+1, spec.Waits.ClusterReady)
		if err := gate.Wait(ctx, spec.Waits.ClusterReady.Duration, spec.Waits.Poll.Duration, progress); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("round %d: interrupted while waiting for the readiness gate: %w", i+1, ctx.Err())
			}
			return roundUnhealthy{fmt.Errorf("round %d: the cluster not healthy again within waits.clusterReady: %w", i+1, err)}
		}
		if err := sleepCtx(ctx, r.Gap); err != nil { // the round's quiet time, a duration, not a wait
			return err
		}
	}
	progress("schedule done: %d rounds in %s", len(s.Rounds), time.Since(start).Round(time.Second))
	return nil
}

// runRound runs a round's steps, each from its offset; the first error wins, and every
// injected step is recovered whatever happens.
func runRound(ctx context.Context, spec topology.Spec, p cluster.Local, injector *fault.Injector, steps *rolling.Steps, r nemesis.Round) error {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(r.Steps))
	for i, st := range r.Steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sleepCtx(ctx, time.Until(start.Add(st.Offset))); err != nil {
				errs[i] = err
				return
			}
			errs[i] = runStep(ctx, spec, p, injector, steps, st)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runStep: inject, seen in effect within its bound, hold, recover.
func runStep(ctx context.Context, spec topology.Spec, p cluster.Local, injector *fault.Injector, steps *rolling.Steps, st nemesis.Step) error {
	f, err := stepFault(ctx, spec, p, st)
	if err != nil {
		return fmt.Errorf("%s: %w", st, err)
	}
	injected, err := injector.Prepare(f)
	if err != nil {
		return err
	}
	defer func() {
		if err := injected.Recover(context.WithoutCancel(ctx)); err != nil {
			progress("recover %s: %v", f.Record(), err)
		}
	}()
	name := fmt.Sprintf("%s (%s)", st, f.Record())
	progress("inject %s", name)
	begin := time.Now()
	_ = steps.Write(rolling.Step{At: begin, Phase: rolling.PhaseBegin, Name: name})
	if err := injected.Inject(ctx); err != nil {
		return fmt.Errorf("inject %s: %w", name, err)
	}
	if err := awaitStepEffect(ctx, spec, f, begin); err != nil {
		if ctx.Err() != nil { // Ctrl-C while waiting: nothing was shown either way
			return fmt.Errorf("%s: interrupted before it was seen in effect: %w", name, ctx.Err())
		}
		return fmt.Errorf("%s: %s: %w", verdict.FaultNotInEffect, name, err)
	}
	if err := sleepCtx(ctx, st.Hold-time.Since(begin)); err != nil { // the fault's hold, a duration
		return err
	}
	if err := injected.Recover(ctx); err != nil {
		return fmt.Errorf("recover %s: %w", name, err)
	}
	return steps.Write(rolling.Step{At: time.Now(), Phase: rolling.PhaseEnd, Name: name})
}

// awaitStepEffect polls the fault's own effect check up to its bound (fault.EffectBound).
func awaitStepEffect(ctx context.Context, spec topology.Spec, f fault.Fault, since time.Time) error {
	o, ok := f.(fault.Observable)
	if !ok {
		return nil
	}
	bound, why := fault.EffectBound(f, 2*monitor.SampleTimeout)
	err := probe.PollUntil(ctx, bound, spec.Waits.Poll.Duration, 2*monitor.SampleTimeout, func(ctx context.Context) error { return o.InEffect(ctx, since) })
	if err != nil {
		return fmt.Errorf("not in effect within %s (%s): %w", bound, why, err)
	}
	return nil
}

// stepFault is the fault a step names, on the running topology (a leader kill's target
// is the Lease's holder now).
func stepFault(ctx context.Context, spec topology.Spec, p cluster.Local, st nemesis.Step) (fault.Fault, error) {
	switch st.Kind {
	case nemesis.APIServerStop:
		return fault.NewAPIServerStop(p, st.Target), nil
	case nemesis.APIServerKill:
		return fault.NewProcessKill(p, st.Target, fault.ProcessAPIServer)
	case nemesis.APIServerFreeze:
		return fault.NewAPIServerFreeze(p, st.Target), nil
	case nemesis.EtcdMemberStop:
		// The member's graceful stop bound, from the flags it runs with now.
		timings, err := cluster.ReadComponentTimings(ctx, p)
		if err != nil {
			return nil, err
		}
		return fault.NewEtcdMemberStop(p, st.Target, spec.Etcd.Mode, topology.NewBounds(spec, timings).EtcdGracefulStop().Value)
	case nemesis.EtcdMemberCrash:
		return fault.NewEtcdMemberCrash(p, st.Target, spec.Etcd.Mode)
	case nemesis.SchedulerKill, nemesis.ManagerKill:
		node, err := leaseHolderNode(ctx, p, st.Target)
		if err != nil {
			return nil, err
		}
		return fault.NewProcessKill(p, node, st.Target)
	case nemesis.Partition:
		peers, err := fault.ControlPlanePeers(ctx, p, st.Target, false)
		if err != nil {
			return nil, err
		}
		if spec.Etcd.Mode == topology.EtcdExternal {
			members, err := p.Nodes(ctx, topology.RoleEtcd)
			if err != nil {
				return nil, err
			}
			for _, m := range members {
				peers = append(peers, m.IP)
			}
		}
		return fault.NewPartition(p, st.Target, peers, fault.PartitionBoth)
	}
	return nil, fmt.Errorf("unknown step kind %q", st.Kind)
}

func leaseHolderNode(ctx context.Context, p cluster.Local, lease string) (string, error) {
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return "", err
	}
	holder, err := monitor.LeaseHolder(kubernetes.NewForConfigOrDie(cfg), lease)(ctx)
	if err != nil {
		return "", fmt.Errorf("the %s Lease's holder: %w", lease, err)
	}
	node, _, _ := strings.Cut(holder, " ")
	return node, nil
}

// sleepCtx waits d (nothing when d ≤ 0) or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
