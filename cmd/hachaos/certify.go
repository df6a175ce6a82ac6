package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hachaos/hachaos/rolling"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/providers"
)

// certifyOptions are certify's flags.
type certifyOptions struct {
	config, from, to, artifacts, labels, patches string
	trials                                       int
	timeout                                      time.Duration
	browser                                      bool
	// preflight checks everything and prints FROM's and TO's versions (the images to
	// build), creating nothing
	preflight bool
}

// certifyPlan is a checked certification: the FROM Spec derived from --config and
// where everything goes.
type certifyPlan struct {
	certifyOptions
	fromSpec              topology.Spec
	fromConfig            string // the FROM Spec's file, in the artifacts
	fromDir, upgradeDir   string
	toDir, comparisonFile string
	patchNames            []string
}

// toVersion is a Kubernetes release version, what TO must be (its kubeadm and kubelet
// are installed).
var toVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

func newCertifyCommand() *cobra.Command {
	var o certifyOptions
	c := &cobra.Command{
		Use:   "certify --from vX.Y.Z|IMAGE --to vX.Y.Z [--trials N] [--labels L] [--patches DIR]",
		Short: "certify the upgrade FROM → TO: suites on FROM, the rolling upgrade under the monitor, suites on the upgraded cluster, comparison",
		Long: `Certify the upgrade FROM → TO on one topology (the Spec's, renamed <name>-cert):
  1. the suites on a FROM topology, --trials times;
  2. TO staged in every node, then the rolling upgrade (hachaos upgrade: kubeadm upgrade
     apply on the first control plane, upgrade node on the others, the kubelets, then
     each worker drained, upgraded, uncordoned) under the disruption monitor, judged
     against the Spec's budgets, the etcd guarantees and the version-skew policy;
  3. the suites again on the upgraded cluster (after a failed upgrade too, which fails
     the certification whatever they show);
  4. the comparison, guarantee by guarantee: a guarantee broken on TO fails it, and so
     does a recovery time that regressed beyond the certification budget and is
     significantly slower (one-sided Mann–Whitney, p ≤ 0.05, at least 3 trials a side);
     a value whose FROM spread exceeds the budget is "too noisy to judge".
The cluster is deleted at the end, on Ctrl-C too. FROM's node image and TO's binaries
and images must be built (make certify builds them: scripts/build-images.sh VERSION);
--preflight checks everything, prints the two versions and creates nothing.
` + exitStatusHelp,
		GroupID: "events",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return certifyCmd(o) },
	}
	fs := c.Flags()
	addConfigFlag(fs, &o.config, "topology Spec file (renamed <name>-cert, at FROM's version)")
	fs.StringVar(&o.from, "from", "", "a Kubernetes version (v1.36.3) or a node image tagged with one (repo:v1.36.3) (required)")
	fs.StringVar(&o.to, "to", "", "the Kubernetes version to upgrade to, one minor above FROM at most (kubeadm's rule) (required)")
	fs.StringVar(&o.artifacts, "artifacts", "", "where the reports go: from/, upgrade/, to/, comparison.txt (default _artifacts/certify-<time>)")
	fs.IntVar(&o.trials, "trials", 3, fmt.Sprintf("how many times every selected spec runs on each side (1–%d; the comparison's significance test needs at least 3)", maxTrials))
	fs.StringVar(&o.labels, "labels", "", "Ginkgo label filter for both sides' suites (default: every spec)")
	fs.StringVar(&o.patches, "patches", "", "a folder of kubeadm patch files every kubeadm upgrade applies (TO only): a platform team's own, or controls/certify-slower-etcd-election, the control that makes TO really slower")
	fs.DurationVar(&o.timeout, "timeout", 120*time.Minute, "Ginkgo's timeout for each trial of the suites")
	fs.BoolVar(&o.browser, "browser-check", true, "render each report.html in headless Chromium and check it")
	fs.BoolVar(&o.preflight, "preflight", false, "check everything, print FROM's and TO's Kubernetes versions, create nothing")
	return c
}

// certifyCmd runs the certification (certifyPlan.run) after checking every flag and the
// derived FROM Spec, every problem at once.
func certifyCmd(o certifyOptions) error {
	plan, err := o.plan()
	if err != nil {
		return err
	}
	if o.preflight {
		fmt.Println(plan.fromSpec.Kubernetes.Version, o.to)
		return nil
	}
	return plan.run()
}

// plan checks the flags and derives the FROM Spec, every problem at once.
func (o certifyOptions) plan() (certifyPlan, error) {
	var problems []string
	for _, f := range []struct{ flag, value string }{{"--from", o.from}, {"--to", o.to}} {
		if f.value == "" {
			problems = append(problems, f.flag+": required, e.g. --from v1.36.3 --to v1.37.2")
		}
	}
	if o.to != "" && !toVersion.MatchString(o.to) {
		problems = append(problems, fmt.Sprintf("--to: must be a Kubernetes version like v1.37.2 (the upgrade installs its kubeadm and kubelet), got %q", o.to))
	}
	if o.trials < 1 || o.trials > maxTrials {
		problems = append(problems, fmt.Sprintf("--trials: must be between 1 and %d, got %d", maxTrials, o.trials))
	}
	if o.timeout <= 0 {
		problems = append(problems, fmt.Sprintf("--timeout: must be above 0, got %s", o.timeout))
	}
	p := certifyPlan{certifyOptions: o}
	if o.patches != "" {
		patches, err := rolling.LoadPatches(o.patches)
		if err != nil {
			problems = append(problems, err.Error()) // it names --patches
		} else if p.patches, err = filepath.Abs(o.patches); err != nil {
			problems = append(problems, "--patches: "+err.Error())
		} else {
			p.patchNames = patches.Names()
		}
	}
	spec, err := topology.Load(o.config)
	if err != nil {
		problems = append(problems, err.Error())
	} else if o.from != "" {
		if p.fromSpec, err = deriveSpec(spec, spec.Name+"-cert", o.from); err != nil {
			problems = append(problems, "--from: "+err.Error())
		} else if o.to != "" && toVersion.MatchString(o.to) {
			if err := rolling.CheckUpgrade(p.fromSpec.Kubernetes.Version, o.to); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	run := runOptions{config: o.config, trials: 1, timeout: time.Minute, dryRun: true}
	problems = append(problems, run.findBinaries()...)
	if len(problems) > 0 {
		return certifyPlan{}, usageError{strings.Join(problems, "\n")}
	}
	if p.artifacts == "" {
		p.artifacts = filepath.Join("_artifacts", "certify-"+time.Now().Format("20060102-150405"))
	}
	abs, err := filepath.Abs(p.artifacts)
	if err != nil {
		return certifyPlan{}, err
	}
	p.artifacts = abs
	p.fromConfig = filepath.Join(abs, "from.yaml")
	p.fromDir, p.upgradeDir, p.toDir = filepath.Join(abs, "from"), filepath.Join(abs, "upgrade"), filepath.Join(abs, "to")
	p.comparisonFile = filepath.Join(abs, "comparison.txt")
	return p, nil
}

// run is the certification: FROM suites → TO staged → the upgrade under the monitor →
// suites on the upgraded cluster → comparison. The cluster is deleted at the end, and
// Ctrl-C stops after the step it interrupts (each step writes its reports first).
func (p certifyPlan) run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := p.prepare(ctx); err != nil {
		return err
	}
	defer func() {
		if err := down(context.Background(), p.fromSpec); err != nil {
			progress("certify: deleting %s failed: %v (hachaos down --config %s)", p.fromSpec.Name, err, p.fromConfig)
		}
	}()
	from := p.fromSpec.Kubernetes.Version
	progress("certification 1/3: the suites on Kubernetes %s (%d trials)", from, p.trials)
	fromStatus, err := p.suites(ctx, p.fromDir)
	if err != nil {
		return fmt.Errorf("FROM side: %w", err)
	}
	progress("certification 2/3: rolling upgrade %s → %s%s under the disruption monitor", from, p.to, p.patchedSuffix())
	upgrade, err := p.stageAndUpgrade(ctx)
	if err != nil {
		return err
	}
	progress("certification 3/3: the suites on the upgraded cluster (%d trials)", p.trials)
	toStatus, err := p.suites(ctx, p.toDir)
	if err != nil {
		return fmt.Errorf("TO side: %w", err)
	}
	return p.verdict(fromStatus, toStatus, upgrade)
}

// prepare writes the FROM Spec — for external etcd its members at the etcd FROM's
// kubeadm recommends, so the upgrade has them to upgrade — and checks that TO can be
// staged, before the first hour of suites.
func (p *certifyPlan) prepare(ctx context.Context) error {
	if err := os.MkdirAll(p.artifacts, 0o755); err != nil {
		return err
	}
	provider, err := providers.New(p.fromSpec, progress)
	if err != nil {
		return err
	}
	if p.fromSpec.Etcd.Mode == topology.EtcdExternal {
		if err := p.externalEtcdAtFROM(ctx, provider); err != nil {
			return err
		}
	}
	stager, ok := provider.(cluster.VersionStager)
	if !ok {
		return fmt.Errorf("the %s provider cannot make Kubernetes %s available in its nodes (no cluster.VersionStager): it cannot be upgraded in place", p.fromSpec.Provider, p.to)
	}
	if err := stager.CanStage(ctx, p.to); err != nil {
		return fmt.Errorf("TO: %w", err)
	}
	return writeSpec(p.fromConfig, p.fromSpec, fmt.Sprintf("derived from %s by hachaos certify for %s", p.config, p.from))
}

// externalEtcdAtFROM sets the FROM Spec's external etcd image to the etcd FROM's kubeadm
// recommends (the image build compiles it): the Spec's own image is usually TO's or
// newer, and then the upgrade would have no member to upgrade.
func (p *certifyPlan) externalEtcdAtFROM(ctx context.Context, provider cluster.Provider) error {
	installer, ok := provider.(cluster.EtcdInstaller)
	if !ok {
		return nil
	}
	v, err := installer.EtcdVersion(ctx, p.fromSpec.Kubernetes.Version)
	if err != nil {
		return fmt.Errorf("FROM's etcd: %w", err)
	}
	repo := p.fromSpec.Etcd.Image
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	p.fromSpec.Etcd.Image = repo + ":" + v + "-0" // kubeadm's tag for etcd v
	progress("FROM's external etcd members run %s, the etcd Kubernetes %s's kubeadm recommends", p.fromSpec.Etcd.Image, p.fromSpec.Kubernetes.Version)
	if p.fromSpec, err = checkedSpec(p.fromSpec, p.from); err != nil {
		return err
	}
	return nil
}

// suites runs the suites on the FROM topology (brought up or reused) into dir; the
// returned status is the verdicts' (0, 1 or 3). A harness problem (2: a secret in the
// artifacts, reports not built) or an interruption is an error.
func (p certifyPlan) suites(ctx context.Context, dir string) (int, error) {
	o := runOptions{config: p.fromConfig, artifacts: dir, labels: p.labels, trials: p.trials, timeout: p.timeout, browser: p.browser}
	if err := o.check(); err != nil {
		return 0, err
	}
	status := statusOf(runCmd(o))
	if ctx.Err() != nil {
		return status, fmt.Errorf("interrupted (the reports of what ran: %s)", dir)
	}
	if status == exitHarness {
		return status, fmt.Errorf("the artifacts hold a secret or their reports failed (above; %s)", dir)
	}
	return status, nil
}

// stageAndUpgrade stages TO in every node, then upgrades under the monitor; it returns
// the monitor's exit status (0, 1 or 3), or an error when the harness failed or Ctrl-C
// interrupted. A failed upgrade is not an error here: the suites still run on what it
// left, so one report shows what else changed (a slower TO's regression, named).
func (p certifyPlan) stageAndUpgrade(ctx context.Context) (int, error) {
	// staging first, outside the monitor: what an operator pre-pulls and kinder bakes
	// into its node image, not a step of the upgrade; a failure is the harness's
	if err := upgradeCmd(p.fromConfig, p.to, "", true, false); err != nil {
		return 0, fmt.Errorf("staging %s in the nodes: %w", p.to, err)
	}
	upgrade := statusOf(p.upgrade())
	switch {
	case ctx.Err() != nil:
		return upgrade, fmt.Errorf("certify interrupted during the upgrade: %w", ctx.Err())
	case upgrade == exitHarness:
		return upgrade, fmt.Errorf("the upgrade's monitor could not judge it (above; %s)", p.upgradeDir)
	case upgrade != exitOK:
		progress("the upgrade did not pass (exit %d; %s): the certification cannot pass; the suites run on the upgraded cluster all the same", upgrade, filepath.Join(p.upgradeDir, "report.html"))
	}
	return upgrade, nil
}

// upgrade runs `hachaos upgrade --staged` under the disruption monitor: the monitor's
// exit status by its verdict (0 passed, 1 a budget or guarantee broken, 3 the upgrade
// did not complete or proved nothing), or its harness error.
func (p certifyPlan) upgrade() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	command := append([]string{self, "upgrade", "--config", p.fromConfig, "--to", p.to, "--staged"}, verbosityFlags()...)
	if p.patches != "" {
		command = append(command, "--patches", p.patches)
	}
	name := fmt.Sprintf("rolling upgrade %s → %s%s", p.fromSpec.Kubernetes.Version, p.to, p.patchedSuffix())
	return monitorCmd(monitorOptions{config: p.fromConfig, artifacts: p.upgradeDir, name: name, traffic: true, browser: p.browser}, command)
}

// verdict compares TO's results with FROM's (comparison.txt, and at the top of TO's
// report) and gives the certification's exit: 1 when the upgrade broke a budget or a
// guarantee or the comparison failed; 2 when the reports could not be written or
// checked; 3 when nothing failed but the upgrade or a side proved nothing; else 0.
func (p certifyPlan) verdict(fromStatus, toStatus, upgrade int) error {
	progress("comparing %s → %s", p.fromSpec.Kubernetes.Version, p.to)
	cmp, reportErr := buildReports(reportOptions{config: p.config, baseline: filepath.Join(p.fromDir, "results.json"), browser: p.browser}, p.toDir)
	if cmp != nil {
		if err := os.WriteFile(p.comparisonFile, []byte(cmp.Text()), 0o644); err != nil {
			reportErr = errors.Join(reportErr, err)
		}
	}
	progress("certification reports: the upgrade %s (each step's disruption beside its budget), the suites after it %s (comparison at the top), %s",
		filepath.Join(p.upgradeDir, "report.html"), filepath.Join(p.toDir, "report.html"), p.comparisonFile)
	var failed []string
	if upgrade == exitFailed {
		failed = append(failed, "the upgrade broke its budgets or guarantees ("+filepath.Join(p.upgradeDir, "report.html")+")")
	}
	if cmp != nil && !cmp.Passed() {
		failed = append(failed, "the comparison ("+p.comparisonFile+")")
	}
	switch {
	case len(failed) > 0:
		return checkFailed{errors.Join(errors.New("certification FAILED: "+strings.Join(failed, "; ")), reportErr)}
	case reportErr != nil:
		return fmt.Errorf("certification not judged: TO's reports: %w", reportErr)
	case upgrade == exitNotReady:
		return notReady{errors.New("certification not proven: the upgrade did not complete or proved nothing (" + filepath.Join(p.upgradeDir, "report.html") + ")")}
	case fromStatus == exitNotReady || toStatus == exitNotReady:
		return notReady{errors.New("certification not proven: some spec's fault was not in effect or its environment not ready (see the reports)")}
	}
	progress("certification PASSED: %s → %s", p.fromSpec.Kubernetes.Version, p.to)
	return nil
}

func (p certifyPlan) patchedSuffix() string {
	if p.patches == "" {
		return ""
	}
	return fmt.Sprintf(" with the kubeadm patches of %s (%s)", p.patches, strings.Join(p.patchNames, ", "))
}
