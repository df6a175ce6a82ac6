//go:build e2e

package suites

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/internal/exec"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/providers"
)

// The suite runs against one topology, brought up (or reused) once. Environment:
//
//	HACHAOS_CONFIG    the Spec file (default ../hachaos.yaml)
//	HACHAOS_TEARDOWN  "1" deletes the topology after the suite (make test); otherwise it
//	                  is kept for the next run to reuse (make chaos)
//	ARTIFACTS         where the run's artifacts go (the Spec, a redacted kubeconfig, node
//	                  and component logs); default ../_artifacts/<time>
//	HACHAOS_SABOTAGE  a negative control on the running topology (see sabotages): applied
//	                  before the suite, shown in effect, undone after it
//	HACHAOS_PROBE     a built static hachaos-probe (hachaos run); otherwise built here
//	HACHAOS_DISABLE_FAULTS  fault kinds (comma-separated, or "all") whose Inject does
//	                  nothing: make chaos-selfcheck, where every fault spec must end
//	                  "fault not in effect"
var (
	spec        topology.Spec
	provider    cluster.Provider
	probeBinary string
	injector    *fault.Injector
	artifacts   string
	dataPlane   *DataPlane // the data-plane workload every fault spec probes
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "hachaos e2e")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	config := os.Getenv("HACHAOS_CONFIG")
	if config == "" {
		config = "../hachaos.yaml"
	}
	var err error
	spec, err = topology.Load(config)
	Expect(err).NotTo(HaveOccurred())
	p, err := providers.New(spec, progress)
	Expect(err).NotTo(HaveOccurred())
	unlock, err := p.Lock() // held until the process exits, however it exits
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(unlock)
	provider = p // only now: AfterSuite must not touch a topology another run owns
	if a, ok := p.(cluster.Attacher); ok {
		// registered first, so it runs last: after every fault's recovery, which may
		// still need the node agent
		DeferCleanup(a.Detach)
	}
	probeBinary = probeInNodes(ctx)
	artifacts = artifactsDir()
	injector = fault.NewInjector(fault.OpenLedger(p.LedgerPath()), provider)
	if disabled := os.Getenv("HACHAOS_DISABLE_FAULTS"); disabled != "" {
		progress("SELF-CHECK: the Inject of these fault kinds does nothing: %s", disabled)
		injector.DisableEffects(strings.Split(disabled, ","))
	}
	recoverLeftovers(ctx)
	_, err = cluster.Up(ctx, spec, provider, progress)
	Expect(err).NotTo(HaveOccurred(), "bring up topology %q from %s", spec.Name, config)
	Expect(monitor.RemoveAPILeftovers(ctx, provider, progress)).To(Succeed(), "remove what an earlier run's API traffic left")
	if name := os.Getenv("HACHAOS_SABOTAGE"); name != "" {
		applySabotage(ctx, name, &spec, provider, injector)
	}
	cfg, err := provider.RESTConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	dataPlane = deployDataPlane(ctx, kubernetes.NewForConfigOrDie(cfg), spec, nodeNames(ctx, provider, topology.RoleWorker))
	recordVersions(ctx, artifacts)
}, NodeTimeout(20*time.Minute))

var _ = AfterSuite(func(ctx SpecContext) {
	if provider != nil {
		writeArtifacts(ctx, artifacts)
	}
	if dataPlane != nil && (spec.Sabotage.DataPlanePinned || spec.Sabotage.DataPlaneLivenessOnAPI) {
		// a data-plane sabotage changed only what this run deployed: deploy it as it
		// should be again, as the ledger undoes the other sabotages
		spec.Sabotage.DataPlanePinned, spec.Sabotage.DataPlaneLivenessOnAPI = false, false
		cfg, err := provider.RESTConfig(ctx)
		Expect(err).NotTo(HaveOccurred())
		deployDataPlane(ctx, kubernetes.NewForConfigOrDie(cfg), spec, dataPlane.Workers)
	}
	if os.Getenv("HACHAOS_TEARDOWN") == "1" && provider != nil {
		Expect(provider.Delete(ctx)).To(Succeed())
	}
}, NodeTimeout(5*time.Minute))

// probeInNodes is the static hachaos-probe the security suite copies into the nodes: the one
// HACHAOS_PROBE names (hachaos run passes the one make build wrote), else built here
// from the source (go test).
func probeInNodes(ctx context.Context) string {
	if path := os.Getenv("HACHAOS_PROBE"); path != "" {
		Expect(path).To(BeARegularFile(), "HACHAOS_PROBE must name a built hachaos-probe")
		return path
	}
	path := filepath.Join(GinkgoT().TempDir(), "hachaos-probe")
	build := exec.Command("go", "build", "-o", path, "../cmd/hachaos-probe")
	build.Env = []string{"CGO_ENABLED=0"} // static: it runs inside the nodes
	Expect(build.Run(ctx)).To(Succeed())
	return path
}

// suiteInput hands the suite's topology to spec functions.
func topologyInput() TopologySpecInput {
	return TopologySpecInput{Spec: spec, Provider: provider}
}

func lbInput() LBReroutingSpecInput {
	return LBReroutingSpecInput{Spec: spec, Provider: provider, Injector: injector, ArtifactsDir: artifacts, DataPlane: dataPlane}
}

// recoverLeftovers undoes faults a previous run left behind (it crashed or was killed)
// before anything else touches the cluster.
func recoverLeftovers(ctx context.Context) {
	exists, err := provider.Exists(ctx)
	Expect(err).NotTo(HaveOccurred())
	if !exists {
		return
	}
	recovered, err := injector.RecoverLeftovers(ctx)
	for _, r := range recovered {
		progress("recovered a fault left by an earlier run: %s", r)
	}
	Expect(err).NotTo(HaveOccurred(), "recover faults left by an earlier run")
}

func securityInput() SecuritySpecInput {
	return SecuritySpecInput{Spec: spec, Provider: provider, ProbeBinary: probeBinary}
}

func artifactsDir() string {
	if dir := os.Getenv("ARTIFACTS"); dir != "" {
		return dir
	}
	return filepath.Join("..", "_artifacts", time.Now().Format("20060102-150405"))
}

// writeArtifacts keeps what a reader of the run needs: the Spec, a kubeconfig without
// credentials, and the logs of every node and component.
func writeArtifacts(ctx context.Context, dir string) {
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	specJSON, err := json.MarshalIndent(spec, "", "  ")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "spec.json"), specJSON, 0o644)).To(Succeed())
	// A sabotaged or self-check run says so in every report built from these artifacts.
	conditions := reports.RunConditions{Sabotage: os.Getenv("HACHAOS_SABOTAGE")}
	if disabled := os.Getenv("HACHAOS_DISABLE_FAULTS"); disabled != "" {
		conditions.DisabledFaults = strings.Split(disabled, ",")
	}
	if conditions.Deliberate() {
		data, err := json.Marshal(conditions)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(dir, reports.RunConditionsFile), data, 0o644)).To(Succeed())
	}
	if k, ok := provider.(interface{ KubeconfigPath() string }); ok {
		raw, err := os.ReadFile(k.KubeconfigPath())
		Expect(err).NotTo(HaveOccurred())
		redacted, err := reports.RedactKubeconfig(raw)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(dir, "kubeconfig.redacted"), redacted, 0o644)).To(Succeed())
	}
	Expect(provider.CollectLogs(ctx, filepath.Join(dir, "logs"))).To(Succeed())
	progress("artifacts in %s", dir)
}

// recordVersions writes what the running cluster reports as its Kubernetes and etcd
// versions to versions.json, for the reports: a Spec says what was asked for, not what runs.
func recordVersions(ctx context.Context, dir string) {
	versions, err := monitor.ReadVersions(ctx, provider)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	data, err := json.Marshal(versions)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "versions.json"), data, 0o644)).To(Succeed())
}

func etcdInput() EtcdToleranceSpecInput {
	return EtcdToleranceSpecInput{Spec: spec, Provider: provider, Injector: injector, ArtifactsDir: artifacts, DataPlane: dataPlane}
}

func leaderInput() LeaderElectionSpecInput {
	return LeaderElectionSpecInput{Spec: spec, Provider: provider, Injector: injector, ArtifactsDir: artifacts, WorkloadImage: servingImage(), DataPlane: dataPlane}
}

func reschedulingInput() PodReschedulingSpecInput {
	return PodReschedulingSpecInput{Spec: spec, Provider: provider, Injector: injector, ArtifactsDir: artifacts, WorkloadImage: servingImage(), DataPlane: dataPlane}
}

// servingImage is the agnhost image the data plane runs ("" without workers): the
// workloads the specs deploy serve with it too (every node image has it, as no
// registry is reachable).
func servingImage() string {
	if dataPlane == nil {
		return ""
	}
	return dataPlane.Image
}

func partitionInput() PartitionSpecInput {
	return PartitionSpecInput{Spec: spec, Provider: provider, Injector: injector, ArtifactsDir: artifacts, DataPlane: dataPlane}
}

func securityFaultsInput() SecurityFaultsSpecInput {
	return SecurityFaultsSpecInput{Spec: spec, Provider: provider, Injector: injector}
}
