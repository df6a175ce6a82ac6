package suites

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/dataplane"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/verdict"
)

// The data plane (package dataplane): a server on every worker behind a NodePort
// Service, created before the first spec; every fault spec probes each worker's NodePort
// from outside the cluster, a new connection every 100 ms, and judges what it saw
// (judge_dataplane.go).

// DataPlane is the data-plane workload as deployed for this suite run.
type DataPlane = dataplane.Workload

// deployDataPlane creates or updates the data-plane workload for spec's sabotages and
// waits until it serves on every worker's NodePort. No workers: no data plane (nil).
func deployDataPlane(ctx context.Context, c kubernetes.Interface, spec topology.Spec, workers []string) *DataPlane {
	if len(workers) == 0 {
		return nil
	}
	opts := dataplane.Options{Workers: workers, Pinned: spec.Sabotage.DataPlanePinned, LivenessOnAPI: spec.Sabotage.DataPlaneLivenessOnAPI}
	By(fmt.Sprintf("deploying the data-plane workload %s/%s on %s (pinned %t, liveness on the API %t)",
		dataplane.Namespace, dataplane.Service, strings.Join(workers, ", "), opts.Pinned, opts.LivenessOnAPI))
	d, err := dataplane.Deploy(ctx, c, opts, spec.Waits.ComponentRestart.Duration)
	Expect(err).NotTo(HaveOccurred())
	progress("data plane: %s (%s) serving on %s", dataplane.Service, d.Image, describeTargets(d.Targets))
	return d
}

func describeTargets(ts []dataplane.Target) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Worker + " " + t.Address
	}
	return strings.Join(parts, ", ")
}

// expectDataPlaneServing is the data plane's part of a fault spec's readiness gate
// (waits.clusterReady): a spec after a worker's loss may start before that worker's
// Pod is Ready again.
func expectDataPlaneServing(ctx context.Context, d *DataPlane, spec topology.Spec, c kubernetes.Interface) {
	if d == nil {
		return
	}
	if err := d.AwaitServing(ctx, c, spec.Waits.ClusterReady.Duration); err != nil {
		failWith(verdict.EnvironmentNotReady, "the data-plane workload does not serve on every worker within waits.clusterReady (%s): %v", spec.Waits.ClusterReady.Duration, err)
	}
}
