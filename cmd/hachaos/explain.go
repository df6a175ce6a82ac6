package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/guarantees"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/topology"
)

func newExplainCommand() *cobra.Command {
	var config, output string
	c := &cobra.Command{
		Use:     "explain",
		Short:   "every timing bound the Spec implies, with its value and formula, and the faults the specs inject (a dry run: creates nothing)",
		GroupID: "topology",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return explain(config, output) },
	}
	addConfigFlag(c.Flags(), &config, "topology Spec file")
	addOutputFlag(c.Flags(), &output, "each bound's value in seconds, formula and inputs")
	return c
}

// explain prints every timing bound the Spec implies, with its value and formula — a
// dry run that creates nothing. The suites derive the same bounds (topology.Bounds) from
// the Spec and from the flags the running components were started with; here, where
// nothing runs, the components' defaults stand in for those flags, and the output says so.
func explain(config, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	spec, err := topology.Load(config)
	if err != nil {
		return err
	}
	b := topology.NewBounds(spec, topology.DefaultComponentTimings())
	t := spec.ResolvedTimeouts()
	rows := explainedBounds(b, t)
	if output == "json" {
		return explainJSON(spec, rows)
	}
	fmt.Printf("%s: %d control planes, %d workers, %s etcd (%d members), profile %s\n", config, spec.ControlPlanes, spec.Workers, spec.Etcd.Mode, spec.Etcd.Members, spec.Profile)
	fmt.Println("Bounds (etcd's, kube-apiserver's, kube-controller-manager's and kube-proxy's own timings at their defaults here; the suites read them from the running components):")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintf(w, "  %s\t≤ %s\t%s\n", row.guarantee, row.bound.Value, row.bound.FormulaText())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if d := t.APIServerShutdownDelay.Duration; d > 0 {
		fmt.Printf("Graceful stop: no request through the LB may fail (shutdown delay %s > LB detection window %s)\n", d, b.LBDetection().Value)
	} else {
		fmt.Println("Graceful stop: skipped (timeouts.apiServerShutdownDelay resolves to 0s)")
	}
	fmt.Printf("Recovery: each component back within waits.componentRestart %s, the readiness gate within waits.clusterReady %s, else \"did not recover\"\n", spec.Waits.ComponentRestart, spec.Waits.ClusterReady)
	printFaultPlans(spec)
	return nil
}

// printFaultPlans lists the faults the fault specs would inject on this Spec, each with
// the rule that picks its node (hachaos run --dry-run names the nodes of a running
// topology and the provider's capabilities).
func printFaultPlans(spec topology.Spec) {
	fmt.Printf("Faults the specs inject (%d specs; each recovers its own, the ledger covers a crash; `hachaos run --dry-run` names the nodes):\n", len(guarantees.FaultPlans))
	for _, plan := range guarantees.FaultPlans {
		fmt.Printf("  %s\n", plan.Spec)
		for _, f := range plan.Faults {
			note := ""
			if f.Only != "" {
				if value, applies := onlyWhen(spec, f.Only); !applies {
					note = fmt.Sprintf(" — not on this Spec: only when %s (%s)", f.Only, value)
				}
			}
			fmt.Printf("    %s on %s, held %s%s\n", f.Kind, f.Target, f.Hold, note)
		}
	}
}

// explainedBound is one guarantee's bound as explain lists it.
type explainedBound struct {
	guarantee string
	bound     topology.Bound
}

// explainedBounds are the bounds the suites derive, at the components' default timings.
func explainedBounds(b topology.Bounds, t topology.Timeouts) []explainedBound {
	return []explainedBound{
		{"LB: API server marked DOWN, clients fail at most (frozen, killed, stopped)", b.LBDetection()},
		{"LB: a recovered API server back in rotation after it answers /readyz", b.LBRise()},
		{"etcd: a new leader after the leader crashed", b.EtcdElection()},
		{"etcd: a stopped member's process gone after SIGTERM", b.EtcdGracefulStop()},
		{"etcd: longest time without an acknowledged write (a minority down)", b.EtcdWriteGap(monitor.KVOpTimeout)},
		{"partition: clients through the LB stop failing", b.APIServerEtcdUnready().Plus(b.LBDetection())},
		{"leader: kube-scheduler Lease taken over", b.LeaseTakeover("scheduler", t.Scheduler)},
		{"leader: kube-controller-manager Lease taken over", b.LeaseTakeover("controllerManager", t.ControllerManager)},
		{"partition inbound: the scheduler Lease on the majority side", b.LeaseTakeover("scheduler", t.Scheduler).Plus(b.EtcdElection())},
		{"worker lost: the workload Ready elsewhere", b.WorkerLossReschedule()},
		{"worker lost: data-plane requests routed away from its Pods", b.WorkerLossRouting(topology.DefaultRoutingTimings(), monitor.SampleTimeout)},
		{"drain (2 Pods on the worker): the workload Ready elsewhere", b.DrainReschedule(2, fault.EvictRetryDelay)},
	}
}

// explainJSON prints the bounds as data: what a script or a dashboard reads.
func explainJSON(spec topology.Spec, rows []explainedBound) error {
	type bound struct {
		Guarantee string                `json:"guarantee"`
		Seconds   float64               `json:"seconds"`
		Formula   string                `json:"formula"`
		Inputs    []topology.BoundInput `json:"inputs,omitempty"`
	}
	out := struct {
		Spec             string                `json:"spec"`
		Bounds           []bound               `json:"bounds"`
		ComponentRestart float64               `json:"componentRestartSeconds"`
		ClusterReady     float64               `json:"clusterReadySeconds"`
		Faults           []guarantees.SpecPlan `json:"faults"`
	}{Spec: spec.Name, ComponentRestart: spec.Waits.ComponentRestart.Seconds(), ClusterReady: spec.Waits.ClusterReady.Seconds(), Faults: guarantees.FaultPlans}
	for _, r := range rows {
		out.Bounds = append(out.Bounds, bound{r.guarantee, r.bound.Value.Seconds(), r.bound.Formula, r.bound.Inputs})
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", "  ")
	return e.Encode(out)
}
