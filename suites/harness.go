package suites

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// The suites' common helpers: verdicts, measurements, the readiness gate, HTTP checks
// for the recorder, and artifacts. The fault-run pipeline is in faultrun.go.

// sampleEvery is the recorder's cadence; a request that gets no answer within
// sampleTimeout is a failure (the monitor's).
const (
	sampleEvery   = monitor.SampleEvery
	sampleTimeout = monitor.SampleTimeout
)

// stage says which verdict a failure from here on in the spec stands for (the last
// stage attached wins). A spec that attaches none and fails broke its guarantee.
func stage(v verdict.Verdict) {
	AddReportEntry(verdict.EntryName, string(v), ReportEntryVisibilityNever)
}

// failWith ends the spec with verdict v and the message.
func failWith(v verdict.Verdict, format string, args ...any) {
	stage(v)
	Fail(fmt.Sprintf("%s: %s", v, fmt.Sprintf(format, args...)), 1)
}

// holdFault keeps an injected fault in place for d: a fault duration, not a wait for a
// condition (the verdicts come from the timeline). An interrupt (the spec's context
// ends: Ctrl-C, a timeout) ends it at once; the spec's cleanups then recover.
func holdFault(ctx context.Context, d time.Duration) {
	By(fmt.Sprintf("holding the fault for %s", d))
	select {
	case <-ctx.Done():
		Fail(fmt.Sprintf("interrupted while the fault was held: %v", context.Cause(ctx)))
	case <-time.After(d):
	}
}

// measure reports a measured time and its bound (with the bound's formula) as a
// report entry; the reports read it back as a reports.Measurement.
func measure(name string, value, bound time.Duration, formula string) {
	report(reports.Measurement{Name: name, Value: value.Seconds(), Unit: "s", Bound: bound.Seconds(), Formula: formula})
}

// measureBound reports a measured time against a typed bound (its formula and inputs).
func measureBound(name string, value time.Duration, b topology.Bound) {
	report(reports.Measurement{Name: name, Value: value.Seconds(), Unit: "s", Bound: b.Value.Seconds(), Formula: b.FormulaText(), Inputs: b.Inputs})
}

// readOnce caches, per topology, what the running components were started with: flags
// do not change while a suite runs (a restarted component keeps its manifest). A
// cluster whose settings cannot be read is not ready.
type readOnce[T any] struct {
	sync.Mutex
	byTopology map[string]T
}

func (c *readOnce[T]) get(topologyName, what string, read func() (T, error), describe func(T) string) T {
	c.Lock()
	defer c.Unlock()
	if t, ok := c.byTopology[topologyName]; ok {
		return t
	}
	t, err := read()
	if err != nil {
		failWith(verdict.EnvironmentNotReady, "read %s: %v", what, err)
	}
	c.byTopology[topologyName] = t
	progress("%s: %s", what, describe(t))
	return t
}

var (
	componentTimings = readOnce[topology.ComponentTimings]{byTopology: map[string]topology.ComponentTimings{}}
	routingTimings   = readOnce[topology.RoutingTimings]{byTopology: map[string]topology.RoutingTimings{}}
)

// boundsOf derives the bounds from the Spec and the running components' own flags.
func boundsOf(ctx context.Context, spec topology.Spec, p cluster.Provider) topology.Bounds {
	t := componentTimings.get(spec.Name, "the running components' timing flags",
		func() (topology.ComponentTimings, error) { return cluster.ReadComponentTimings(ctx, p) },
		func(t topology.ComponentTimings) string {
			return fmt.Sprintf("etcd election timeout %s (%s), heartbeat %s (%s), API server etcd check timeout %s (%s)",
				t.EtcdElectionTimeout.Value, t.EtcdElectionTimeout.Source, t.EtcdHeartbeatInterval.Value, t.EtcdHeartbeatInterval.Source,
				t.APIServerEtcdCheckTimeout.Value, t.APIServerEtcdCheckTimeout.Source)
		})
	return topology.NewBounds(spec, t)
}

// routingTimingsOf is what delays routing away from a lost node, as the running
// controller-managers and kube-proxy are configured.
func routingTimingsOf(ctx context.Context, spec topology.Spec, p cluster.Provider) topology.RoutingTimings {
	return routingTimings.get(spec.Name, "the settings that route away from a lost node",
		func() (topology.RoutingTimings, error) { return cluster.ReadRoutingTimings(ctx, p) },
		func(t topology.RoutingTimings) string {
			return fmt.Sprintf("EndpointSlice batch period %s (%s), kube-proxy min sync period %s (%s)",
				t.EndpointSliceBatchPeriod.Value, t.EndpointSliceBatchPeriod.Source, t.KubeProxyMinSyncPeriod.Value, t.KubeProxyMinSyncPeriod.Source)
		})
}

// measureUnbounded reports a measured time that has no pass/fail bound, saying why.
func measureUnbounded(name string, value time.Duration, why string) {
	report(reports.Measurement{Name: name, Value: value.Seconds(), Unit: "s", Unbounded: true, Formula: why})
}

// measureUnboundedWithHistory is measureUnbounded for a value its component's history
// may lengthen by up to spread (reports.Measurement.HistorySpread).
func measureUnboundedWithHistory(name string, value time.Duration, why string, spread time.Duration) {
	report(reports.Measurement{Name: name, Value: value.Seconds(), Unit: "s", Unbounded: true, Formula: why, HistorySpread: spread.Seconds()})
}

// measureAtLeast reports a count that must not fall below its bound.
func measureAtLeast(name string, value, bound int, unit, formula string) {
	report(reports.Measurement{Name: name, Value: float64(value), Unit: unit, Bound: float64(bound), AtLeast: true, Formula: formula})
}

func report(m reports.Measurement) {
	AddReportEntry(reports.MeasurementEntryPrefix+m.Name, m)
	progress("measured: %s: %s", m.Name, m)
}

// freshConnectionGet GETs path on a new TLS connection each time (monitor.FreshConnectionGet).
func freshConnectionGet(cfg *rest.Config, path string) monitor.Check {
	check, err := monitor.FreshConnectionGet(cfg, path)
	Expect(err).NotTo(HaveOccurred())
	return check
}

// expectEnvironmentReady runs the readiness gate before a spec's fault: a failure here
// is an environment that is not ready, never a broken guarantee.
func expectEnvironmentReady(ctx context.Context, spec topology.Spec, p cluster.Provider) {
	stage(verdict.EnvironmentNotReady)
	if err := readinessGate(ctx, spec, p); err != nil {
		failWith(verdict.EnvironmentNotReady, "the readiness gate before the fault failed within waits.clusterReady (%s): %v", spec.Waits.ClusterReady, err)
	}
}

// readinessGate waits up to waits.clusterReady for the topology's readiness gate.
func readinessGate(ctx context.Context, spec topology.Spec, p cluster.Provider) error {
	return cluster.NewGate(spec, p).Wait(ctx, spec.Waits.ClusterReady.Duration, spec.Waits.Poll.Duration, progress)
}

func progress(format string, args ...any) {
	GinkgoWriter.Printf("%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func saveTimeline(dir, specText string, tl probe.Timeline) {
	AddReportEntry("timeline", saveJSON(dir, "timelines", specText, tl))
}

// saveJSON writes v to dir/kind/<spec text>.json and returns the path (monitor.SaveJSON).
func saveJSON(dir, kind, specText string, v any) string {
	path, err := monitor.SaveJSON(dir, kind, specText, v)
	Expect(err).NotTo(HaveOccurred())
	return path
}
