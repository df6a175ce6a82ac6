package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
)

// sampleEvery is the recorder's cadence; a request that gets no answer within
// sampleTimeout is a failure.
const (
	sampleEvery   = 100 * time.Millisecond
	sampleTimeout = 2 * time.Second
)

// LBReroutingSpecInput is what LBReroutingSpec needs.
type LBReroutingSpecInput struct {
	Spec         topology.Spec
	Provider     topology.Provider
	Injector     *fault.Injector
	ArtifactsDir string
}

func (in LBReroutingSpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "LBReroutingSpecInput.Provider is required")
	Expect(in.Injector).NotTo(BeNil(), "LBReroutingSpecInput.Injector is required")
	Expect(in.ArtifactsDir).NotTo(BeEmpty(), "LBReroutingSpecInput.ArtifactsDir is required")
}

// apiServerFaults are the ways one API server is taken away in LBReroutingSpec.
var apiServerFaults = []struct {
	name  string
	build func(t fault.Topology, node string) fault.Fault
}{
	{"stopped", func(t fault.Topology, node string) fault.Fault { return fault.NewAPIServerStop(t, node) }},
	{"killed", func(t fault.Topology, node string) fault.Fault {
		f, err := fault.NewProcessKill(t, node, fault.ProcessAPIServer)
		Expect(err).NotTo(HaveOccurred())
		return f
	}},
	{"frozen", func(t fault.Topology, node string) fault.Fault { return fault.NewAPIServerFreeze(t, node) }},
}

// LBReroutingSpec asserts the load balancer's guarantee: with one API server stopped or
// frozen, clients going through the LB on new connections fail for no longer than the
// LB's detection window, and never after it; the server comes back into rotation after
// Recover. The window is derived from the HAProxy settings in the Spec
// (LoadBalancerSpec.DetectionWindow); it starts when the server itself stops answering,
// as seen by a probe that bypasses the LB.
func LBReroutingSpec(ctx context.Context, inputGetter func() LBReroutingSpecInput) {
	for _, f := range apiServerFaults {
		It("keeps clients through the load balancer working when one API server is "+f.name, func() {
			in := inputGetter()
			in.validate()
			skipUnlessHAProxy(in.Spec)
			expectEnvironmentReady(ctx, in.Spec, in.Provider)
			targets := nodeNames(ctx, in.Provider, topology.RoleControlPlane)
			target := targets[len(targets)-1]
			run := measureAPIServerFault(ctx, in, []string{target}, []fault.Fault{f.build(in.Provider, target)})
			judgeLBRerouting(in, run, "apiserver-"+f.name)
		})
	}

	It("keeps clients through the load balancer working with all API servers but one stopped", func() {
		in := inputGetter()
		in.validate()
		skipUnlessHAProxy(in.Spec)
		expectEnvironmentReady(ctx, in.Spec, in.Provider)
		targets := nodeNames(ctx, in.Provider, topology.RoleControlPlane)[1:]
		var faults []fault.Fault
		for _, t := range targets {
			faults = append(faults, fault.NewAPIServerStop(in.Provider, t))
		}
		run := measureAPIServerFault(ctx, in, targets, faults)
		judgeLBRerouting(in, run, "all-but-one-stopped")
	})
}

func skipUnlessHAProxy(spec topology.Spec) {
	if spec.LoadBalancer.Type != topology.LBHAProxy {
		Skip("LB rerouting is measured on hachaos' HAProxy (loadBalancer.type: haproxy)")
	}
}

// faultRun is the recording of one fault and the instants that matter in it.
type faultRun struct {
	timeline  probe.Timeline
	targets   []string
	inject    time.Duration // fault injected
	effective time.Duration // the last target stopped answering (direct probe)
	recovered time.Duration // Recover returned
}

func measureAPIServerFault(ctx context.Context, in LBReroutingSpecInput, targets []string, faults []fault.Fault) faultRun {
	lbCfg, err := in.Provider.RESTConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	lb, err := in.Provider.LoadBalancer(ctx)
	Expect(err).NotTo(HaveOccurred())
	obs := startObservation(ctx, observeInput{Spec: in.Spec, Provider: in.Provider, ArtifactsDir: in.ArtifactsDir})

	By("checking that clients through the load balancer work before the fault")
	Consistently(freshConnectionGet(lbCfg, "/api/v1/namespaces/default")).WithContext(ctx).
		WithTimeout(time.Second).WithPolling(sampleEvery).Should(Not(BeEmpty()))

	var injected []*fault.Injected
	for _, f := range faults {
		i, err := in.Injector.Prepare(f)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(i.Recover) // before Inject: a failing spec still recovers
		injected = append(injected, i)
	}
	run := faultRun{targets: targets}
	run.inject = obs.mark("inject")
	for i, f := range faults {
		By(fmt.Sprintf("injecting %s", f.Record()))
		Expect(injected[i].Inject(ctx)).To(Succeed())
	}

	// The fault lasts twice the LB's detection window plus a margin: long enough to see
	// the LB take the server out and clients keep working after that. It is a fault
	// duration, not a wait for a condition; the verdict comes from the timeline.
	holdFault(ctx, 2*in.Spec.LoadBalancer.DetectionWindow()+3*time.Second)

	By(fmt.Sprintf("recovering %v", targets))
	for _, i := range injected {
		Expect(i.Recover(ctx)).To(Succeed())
	}
	run.recovered = obs.mark("recover")
	for _, target := range targets {
		Eventually(errOnly(backendState(lb.StatsAddress, target))).WithContext(ctx).
			WithTimeout(in.Spec.Waits.ComponentRestart.Duration).WithPolling(sampleEvery).Should(Succeed(),
			"the load balancer takes %s back once it answers again (within waits.componentRestart)", target)
	}
	obs.mark("back-in-rotation")
	run.timeline, _ = obs.end(in.ArtifactsDir)
	for _, target := range targets {
		effective, ok := run.timeline.FirstAfter(prefixAPIServer+target, run.inject, func(s probe.Sample) bool { return !s.OK })
		Expect(ok).To(BeTrue(), "the direct probe of %s never failed: the fault did not take effect", target)
		run.effective = max(run.effective, effective)
	}
	expectEnvironmentReady(ctx, in.Spec, in.Provider)
	return run
}

// judgeLBRerouting: clients through the LB fail for at most the detection window after
// the server stops answering, and not at all after it.
func judgeLBRerouting(in LBReroutingSpecInput, run faultRun, what string) {
	// bound = inter + fall×(min(timeout connect, inter) + timeout check) + (fall−1)×fastinter
	window := in.Spec.LoadBalancer.DetectionWindow()
	during := run.timeline.Between(seriesLB, run.inject, run.recovered)
	after := run.timeline.Between(seriesLB, run.effective+window, run.recovered)
	AddReportEntry("measured: "+what+": failed requests through the LB",
		fmt.Sprintf("%d of %d while the fault lasted (counted; the bound is on their span)", during.Failures, during.Samples))
	measure(what+": LB failure span", during.FailureSpan(), window, "LB detection window = inter + fall × (min(connect, inter) + check) + (fall − 1) × fastinter")
	var neverDown, lateDown []string
	for i, target := range run.targets {
		// Named by position, not node, so trials and certification sides line up.
		name := what + ": API server marked DOWN after it stopped answering"
		if len(run.targets) > 1 {
			name += fmt.Sprintf(" (%d of %d)", i+1, len(run.targets))
		}
		stopped, _ := run.timeline.FirstAfter(prefixAPIServer+target, run.inject, func(s probe.Sample) bool { return !s.OK })
		downAt, ok := run.timeline.FirstAfter(prefixBackend+target, run.inject, func(s probe.Sample) bool { return !s.OK })
		AddReportEntry("measured: "+name+": node", target)
		if !ok {
			AddReportEntry("measured: "+name, "never, while the fault lasted")
			neverDown = append(neverDown, target)
			continue
		}
		measure(name, downAt-stopped, window, "LB detection window")
		if downAt-stopped > window {
			lateDown = append(lateDown, fmt.Sprintf("%s after %s", target, (downAt-stopped).Round(10*time.Millisecond)))
		}
	}
	Expect(after.Failures).To(BeZero(),
		"%d of %d requests through the load balancer failed more than the detection window (%s) after %s stopped answering",
		after.Failures, after.Samples, window, strings.Join(run.targets, ", "))
	Expect(during.FailureSpan()).To(BeNumerically("<=", window),
		"requests through the load balancer kept failing for %s; bound %s = the LB's detection window", during.FailureSpan().Round(10*time.Millisecond), window)
	// The LB's own view, after the clients' (a negative control without health checks
	// must fail on the clients first).
	Expect(neverDown).To(BeEmpty(), "the LB never marked these API servers DOWN while the fault lasted")
	Expect(lateDown).To(BeEmpty(), "the LB marked API servers DOWN later than its detection window %s after they stopped answering", window)
}

// holdFault keeps an injected fault in place for d: a fault duration, not a wait for a
// condition (the verdicts come from the timeline). An interrupt ends it early.
func holdFault(ctx context.Context, d time.Duration) {
	By(fmt.Sprintf("holding the fault for %s", d))
	select {
	case <-ctx.Done():
		Fail("interrupted while the fault was held")
	case <-time.After(d):
	}
}

// measure reports a measured time and its bound (with the bound's formula) as a
// report entry; the reports read it back as a reports.Measurement.
func measure(name string, value, bound time.Duration, formula string) {
	report(reports.Measurement{Name: name, Value: value.Seconds(), Unit: "s", Bound: bound.Seconds(), Formula: formula})
}

// measureAtLeast reports a count that must not fall below its bound.
func measureAtLeast(name string, value, bound int, unit, formula string) {
	report(reports.Measurement{Name: name, Value: float64(value), Unit: unit, Bound: float64(bound), AtLeast: true, Formula: formula})
}

func report(m reports.Measurement) {
	AddReportEntry(reports.MeasurementEntryPrefix+m.Name, m)
	progress("measured: %s: %s", m.Name, m)
}

// freshConnectionGet GETs path with cfg's credentials on a new TLS connection each time,
// as a client arriving at the load balancer would.
func freshConnectionGet(cfg *rest.Config, path string) func(ctx context.Context) (string, error) {
	return getter(cfg, path, &http.Transport{DisableKeepAlives: true})
}

// getter GETs path with cfg's credentials through transport; anything but 200 is an
// error naming the status (and, for a verbose health endpoint, the failed checks).
func getter(cfg *rest.Config, path string, transport *http.Transport) func(ctx context.Context) (string, error) {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	transport.TLSClientConfig = tlsConfig
	client := &http.Client{Transport: transport}
	return func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("HTTP %d%s", resp.StatusCode, failedChecks(resp.Body))
		}
		return "ok", nil
	}
}

// backendState reads target's state from HAProxy; anything but UP is an error.
func backendState(statsAddress, target string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		states, err := topology.ReadHAProxyBackends(ctx, statsAddress, topology.HAProxyBackend)
		if err != nil {
			return "", err
		}
		for _, s := range states {
			if s.Server == target {
				if !s.Up() {
					return s.Status, fmt.Errorf("%s is %s", target, s.Status)
				}
				return s.Status, nil
			}
		}
		return "", fmt.Errorf("%s is not a server of the load balancer", target)
	}
}

// errOnly adapts a recorder check to Gomega's Succeed matcher.
func errOnly(check func(ctx context.Context) (string, error)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := check(ctx)
		return err
	}
}

// expectEnvironmentReady runs the readiness gate: a failure here is an environment that
// is not ready, never a broken guarantee.
func expectEnvironmentReady(ctx context.Context, spec topology.Spec, p topology.Provider) {
	err := topology.NewGate(spec, p).Wait(ctx, spec.Waits.ClusterReady.Duration, spec.Waits.Poll.Duration, progress)
	Expect(err).NotTo(HaveOccurred(), "environment not ready (not a broken guarantee)")
}

func progress(format string, args ...any) {
	GinkgoWriter.Printf("%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func saveTimeline(dir, specText string, tl probe.Timeline) {
	AddReportEntry("timeline", saveJSON(dir, "timelines", specText, tl))
}

// saveJSON writes v to dir/kind/<spec text>.json and returns the path.
func saveJSON(dir, kind, specText string, v any) string {
	path := filepath.Join(dir, kind, strings.NewReplacer(" ", "-", "/", "-").Replace(specText)+".json")
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	data, err := json.MarshalIndent(v, "", " ")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(path, data, 0o644)).To(Succeed())
	return path
}
