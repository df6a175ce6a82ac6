package suites

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/dataplane"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// The standard observation's series and cadences are the monitor's (package monitor):
// the suites record through it, so `hachaos monitor` sees exactly what a spec sees.
const (
	seriesLB          = monitor.SeriesLB
	seriesLBKeepAlive = monitor.SeriesLBKeepAlive
	prefixAPIServer   = monitor.PrefixAPIServer
	prefixBackend     = monitor.PrefixBackend
	prefixLease       = monitor.PrefixLease
	prefixEtcd        = monitor.PrefixEtcd
	seriesWorkload    = monitor.SeriesWorkload
	kvOpTimeout       = monitor.KVOpTimeout
)

// Lease names of the leader-elected components, in kube-system.
var leaderElected = monitor.LeaderElected

// observation is one spec's recording (monitor.Observation), saved to the artifacts
// folder under the spec's name, also when the spec fails first.
type observation struct {
	*monitor.Observation
	rec     *probe.Recorder
	dir     string // where end saves the timeline
	saved   bool
	history probe.KVHistory
}

// observeInput says what to record besides the standard series.
type observeInput struct {
	Spec     topology.Spec
	Provider cluster.Provider
	// Traffic starts etcd traffic (a writer and reader with a recorded history).
	Traffic bool
	// APITraffic records Kubernetes API traffic through the LB with watchers (every
	// fault run has it: apicheck's guarantees are judged on every fault).
	APITraffic bool
	// Workload records the test workload's ready Pods per node.
	Workload *workload
	// DataPlane are the data-plane workload's NodePorts to probe (dataplane.PrefixSeries).
	DataPlane []dataplane.Target
	// ArtifactsDir receives the timeline (and history), also when the spec fails first.
	ArtifactsDir string
}

// startObservation starts the monitor's standard observation (see monitor.Start) and
// registers its end for cleanup.
func startObservation(ctx context.Context, in observeInput) *observation {
	min := monitor.Input{Spec: in.Spec, Provider: in.Provider, Traffic: in.Traffic, APITraffic: in.APITraffic, DataPlane: in.DataPlane}
	if in.Workload != nil {
		min.Workload = in.Workload.readyPerNode
	}
	m, err := monitor.Start(ctx, min)
	Expect(err).NotTo(HaveOccurred(), "start the observation")
	o := &observation{Observation: m, rec: m.Rec, dir: in.ArtifactsDir}
	DeferCleanup(o.finish) // a failing spec still stops its goroutines and saves what it saw
	return o
}

// end stops recording and returns the timeline (and the etcd history, if there was
// traffic); both are saved to the artifacts folder under the spec's name.
func (o *observation) end(dir string) (probe.Timeline, probe.KVHistory) {
	tl, history := o.End()
	if o.saved {
		return tl, history
	}
	o.history = history
	saveTimeline(dir, CurrentSpecReport().LeafNodeText, tl)
	if len(history.Operations) > 0 {
		saveJSON(dir, "histories", CurrentSpecReport().LeafNodeText, history)
	}
	if api := o.APIHistory(); len(api.Operations) > 0 {
		saveJSON(dir, "api-histories", CurrentSpecReport().LeafNodeText, api)
	}
	o.saved = true
	return tl, history
}

// finish releases what end does not (the etcd client, the traffic's keys); safe twice.
func (o *observation) finish(ctx context.Context) {
	if !o.saved && o.dir != "" {
		o.end(o.dir) // the spec failed before its end: its timeline matters most now
	}
	if err := o.Close(ctx); err != nil {
		progress("%v", err)
	}
}

// keepAliveConfig is cfg with its own transport (monitor.KeepAliveConfig).
func keepAliveConfig(cfg *rest.Config) *rest.Config { return monitor.KeepAliveConfig(cfg) }

// leaseHolder reads a kube-system Lease's holder (monitor.LeaseHolder).
func leaseHolder(c kubernetes.Interface, name string) monitor.Check {
	return monitor.LeaseHolder(c, name)
}

// leaseNode is the holder's node in a lease series value (timelines written before the
// instance was recorded hold the node alone).
func leaseNode(value string) string {
	node, _, _ := strings.Cut(value, " ")
	return node
}

// etcdField reads one "key=value" field of an etcd series value.
func etcdField(value, key string) string {
	for _, f := range strings.Fields(value) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// readyPods counts the workload's ready Pods per node from a workload sample's value.
func readyPods(value string) (total int, perNode map[string]int) {
	perNode = map[string]int{}
	for _, f := range strings.Split(value, ",") {
		var node string
		var n int
		if k, v, ok := strings.Cut(f, "="); ok {
			node = k
			fmt.Sscan(v, &n)
		}
		if node != "" {
			perNode[node] = n
			total += n
		}
	}
	return total, perNode
}

// formatPerNode writes counts as "<node>=<n>,…" sorted by node.
func formatPerNode(counts map[string]int) string {
	nodes := make([]string, 0, len(counts))
	for n := range counts {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = fmt.Sprintf("%s=%d", n, counts[n])
	}
	return strings.Join(parts, ",")
}

func podReady(p corev1.Pod) bool {
	return p.DeletionTimestamp == nil && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
	})
}
