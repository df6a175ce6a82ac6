package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/guarantees"
	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/existing"
	"github.com/hachaos/hachaos/topology/providers"
)

// dryRunTimeout bounds the dry run's reads of the cluster (node list, Leases): it acts
// on nothing, so a cluster that does not answer in time is only named as unread.
const dryRunTimeout = 20 * time.Second

// dryRun prints, for every spec the selection holds, each fault it would inject: on
// which node (read from the cluster where a read suffices, else the rule the spec
// picks it by when it starts), what it does, how long it holds, how it is recovered,
// and whether the provider can inject it at all. It creates, starts and injects
// nothing: no agent, no ledger entry, no cluster.
func dryRun(o runOptions) error {
	spec, err := topology.Load(o.config)
	if err != nil {
		return err
	}
	specs, err := dryRunSpecs(o.suites, o.labels, o.focus)
	if err != nil {
		return err
	}
	p, err := providers.New(spec, func(string, ...any) {})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), dryRunTimeout)
	defer cancel()
	r := newTargetResolver(ctx, spec, p)
	printDryRunHeader(spec, p, len(specs), r)
	var unplanned []string
	for _, s := range specs {
		plan, ok := guarantees.PlanOf(s.Name)
		if !ok {
			if slices.Contains(s.Labels, "disruptive") {
				unplanned = append(unplanned, s.Name)
			}
			fmt.Printf("\n%s\n  no fault: it reads and checks only\n", s.Name)
			continue
		}
		fmt.Printf("\n%s\n", s.Name)
		if missing := p.Capabilities().Missing(capabilities(plan.JudgedOn)); len(missing) > 0 {
			fmt.Printf("  SKIPPED: its guarantees are judged on what the %s provider lacks: %s\n", p.Capabilities().Provider, strings.Join(missing, ", "))
		}
		for _, f := range plan.Faults {
			printPlannedFault(spec, p.Capabilities(), r, f)
		}
	}
	if len(unplanned) > 0 {
		return fmt.Errorf("harness: %d disruptive specs have no plan in guarantees.FaultPlans, so this dry run cannot say what they inject: %s", len(unplanned), strings.Join(unplanned, "; "))
	}
	return nil
}

func printDryRunHeader(spec topology.Spec, p cluster.Local, n int, r targetResolver) {
	fmt.Printf("Dry run: nothing is created, started or injected. Spec %q, provider %s, %d specs selected.\n", spec.Name, p.Capabilities().Provider, n)
	if spec.Provider == topology.ProviderExisting {
		fmt.Printf("Cluster: behind %s (context %q), not created by hachaos; the run starts the node agent (image %s, namespace %s) and removes it at its end.\n",
			spec.Kubeconfig, spec.Context, spec.Agent.Image, existing.AgentNamespace)
	}
	switch {
	case r.unread != nil:
		fmt.Printf("Nodes not read (%v): each target is named by its rule only.\n", r.unread)
	case len(r.controlPlanes) == 0:
		fmt.Println("No node of this topology found (not up yet?): each target is named by its rule only.")
	default:
		fmt.Printf("Nodes now: control planes %s; workers %s; etcd members %s.\n", strings.Join(r.controlPlanes, ", "), strings.Join(r.workers, ", "), strings.Join(r.etcd, ", "))
	}
	fmt.Printf("Every fault is written to the ledger %s before it is injected; the spec recovers it, and on Ctrl-C or a crash the next run does (hachaos recover).\n", p.LedgerPath())
	if s := os.Getenv("HACHAOS_SABOTAGE"); s != "" {
		fmt.Printf("HACHAOS_SABOTAGE=%s: that negative control's sabotage is applied before the specs and removed after them.\n", s)
	}
}

// printPlannedFault prints one fault of a spec's plan.
func printPlannedFault(spec topology.Spec, caps topology.Capabilities, r targetResolver, f guarantees.PlannedFault) {
	params, mode := map[string]string{"mode": string(spec.Etcd.Mode)}, ""
	switch f.Kind {
	case fault.KindWorkerLoss:
		params["mode"] = string(fault.WorkerLossModeFor(caps))
		mode = " (" + params["mode"] + ")"
	case fault.KindEtcdMemberStop, fault.KindEtcdMemberCrash:
		mode = " (" + params["mode"] + " etcd)"
	}
	fmt.Printf("  %s%s on %s\n", f.Kind, mode, r.resolve(f.Target))
	if f.Only != "" {
		value, applies := onlyWhen(spec, f.Only)
		if !applies {
			fmt.Printf("    not injected: only when %s, and the Spec has %s\n", f.Only, value)
			return
		}
		fmt.Printf("    only when %s (the Spec: %s)\n", f.Only, value)
	}
	d, err := fault.Describe(f.Kind, params)
	if err != nil {
		fmt.Printf("    %v\n", err)
		return
	}
	fmt.Printf("    injects:  %s\n    holds:    %s\n    recovery: %s\n", d.Injects, f.Hold, d.Recovery)
	if rebuilt, err := fault.Rebuild(nil, fault.Record{Kind: f.Kind, Params: params}); err == nil {
		if missing := caps.Missing(rebuilt.Needs()); len(missing) > 0 {
			fmt.Printf("    SKIPPED: the %s provider lacks %s\n", caps.Provider, strings.Join(missing, ", "))
		}
	}
}

// onlyWhen is the Spec's value for a plan's condition, and whether it holds: the
// conditions are the ones guarantees.FaultPlans names.
func onlyWhen(spec topology.Spec, only string) (string, bool) {
	if only == guarantees.OnlyIsolatedNodeCPUs {
		return fmt.Sprintf("isolatedNodeCPUs %g", spec.IsolatedNodeCPUs), spec.IsolatedNodeCPUs > 0
	}
	return "a condition this dry run does not know (" + only + ")", true
}

// targetResolver names a plan's target on the cluster as it is now, from reads that
// change nothing: the node list and the Leases through the Kubernetes API. The etcd
// leader needs etcd's own answer (on an existing cluster, through the agent a dry run
// does not start), so the rule stands for it.
type targetResolver struct {
	controlPlanes, workers, etcd []string
	leases                       map[string]string // Lease name → holder's node
	unread                       error
}

func newTargetResolver(ctx context.Context, spec topology.Spec, p cluster.Local) targetResolver {
	r := targetResolver{leases: map[string]string{}}
	names := func(role topology.Role) []string {
		nodes, err := p.Nodes(ctx, role)
		if err != nil && r.unread == nil {
			r.unread = err
		}
		var out []string
		for _, n := range nodes {
			out = append(out, n.Name)
		}
		return out
	}
	r.controlPlanes, r.workers = names(topology.RoleControlPlane), names(topology.RoleWorker)
	r.etcd = r.controlPlanes
	if spec.Etcd.Mode == topology.EtcdExternal {
		r.etcd = names(topology.RoleEtcd)
	}
	if r.unread != nil {
		return r
	}
	if cfg, err := p.RESTConfig(ctx); err == nil {
		client, err := kubernetes.NewForConfig(cfg)
		for _, name := range monitor.LeaderElected {
			if err != nil {
				break
			}
			if holder, herr := monitor.LeaseHolder(client, name)(ctx); herr == nil {
				r.leases[name], _, _ = strings.Cut(holder, " ")
			}
		}
	}
	return r
}

// resolve names the target: the rule, and the node(s) it picks now where a read shows.
func (r targetResolver) resolve(t guarantees.Target) string {
	now := func(nodes ...string) string {
		if len(nodes) == 0 || slices.Contains(nodes, "") {
			return string(t) + " (not read)"
		}
		return strings.Join(nodes, ", ") + " (" + string(t) + ")"
	}
	switch t {
	case guarantees.TargetLastControlPlane:
		return now(last(r.controlPlanes))
	case guarantees.TargetControlPlanesButFirst:
		if len(r.controlPlanes) > 1 {
			return now(r.controlPlanes[1:]...)
		}
	case guarantees.TargetSchedulerLeaseHolder, guarantees.TargetLeaseHolders:
		return now(r.leases["kube-scheduler"]) + r.whenStarts(t == guarantees.TargetLeaseHolders)
	case guarantees.TargetControllerLeaseHolder:
		return now(r.leases["kube-controller-manager"]) + r.whenStarts(false)
	case guarantees.TargetLastEtcdMember:
		return now(last(r.etcd))
	case guarantees.TargetFirstWorker:
		if len(r.workers) > 0 {
			return now(r.workers[0])
		}
	case guarantees.TargetEtcdLeader, guarantees.TargetEtcdFollower, guarantees.TargetEtcdMajority:
		return string(t) + ", read from etcd when the spec starts"
	}
	return now()
}

// whenStarts notes that a target read from a Lease may move before the spec starts.
func (r targetResolver) whenStarts(orEtcdLeader bool) string {
	if orEtcdLeader {
		return "; with the Leases on two nodes, the etcd leader's if it holds the controller-manager's; as the spec finds them when it starts"
	}
	return "; as the spec finds it when it starts"
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func capabilities(names []string) []topology.Capability {
	out := make([]topology.Capability, len(names))
	for i, n := range names {
		out[i] = topology.Capability(n)
	}
	return out
}
