package suites

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Negative controls on the running topology: a sabotage named in HACHAOS_SABOTAGE is
// applied before the suite runs and undone after it, so a control needs no cluster of its
// own. Workload sabotages change only what the suite deploys; the others are ledgered
// faults (fault.ManifestFlags) that must be seen in effect before any spec runs.
var sabotages = map[string]func(ctx context.Context, spec *topology.Spec, p cluster.Provider) []fault.Observable{
	"workloadPinned": func(_ context.Context, spec *topology.Spec, _ cluster.Provider) []fault.Observable {
		spec.Sabotage.WorkloadPinned = true
		return nil
	},
	"workloadWithoutPDB": func(_ context.Context, spec *topology.Spec, _ cluster.Provider) []fault.Observable {
		spec.Sabotage.WorkloadWithoutPDB = true
		return nil
	},
	"workloadSlowToStart": func(_ context.Context, spec *topology.Spec, _ cluster.Provider) []fault.Observable {
		spec.Sabotage.WorkloadSlowToStart = true
		return nil
	},
	"dataPlanePinned": func(_ context.Context, spec *topology.Spec, _ cluster.Provider) []fault.Observable {
		spec.Sabotage.DataPlanePinned = true
		return nil
	},
	"dataPlaneLivenessOnAPI": func(_ context.Context, spec *topology.Spec, _ cluster.Provider) []fault.Observable {
		spec.Sabotage.DataPlaneLivenessOnAPI = true
		return nil
	},
	// The last control plane's scheduler outside leader election: it schedules beside
	// whichever instance holds the Lease. Only one: with every scheduler outside it,
	// nobody holds the Lease and the readiness gate refuses the cluster.
	"schedulerOutsideLeaderElection": func(ctx context.Context, _ *topology.Spec, p cluster.Provider) []fault.Observable {
		planes := nodeNames(ctx, p, topology.RoleControlPlane)
		f, err := fault.NewManifestFlags(p, planes[len(planes)-1], fault.ProcessScheduler, map[string]string{"leader-elect": "false"})
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{f}
	},
	// The graceful-stop spec's target API server (the last control plane) restarted with
	// --shutdown-delay-duration=0s while the Spec promises its profile's delay: it stops
	// serving at once on SIGTERM, before the LB has taken it out.
	"apiServerShutdownDelayZero": func(ctx context.Context, _ *topology.Spec, p cluster.Provider) []fault.Observable {
		planes := nodeNames(ctx, p, topology.RoleControlPlane)
		f, err := fault.NewManifestFlags(p, planes[len(planes)-1], fault.ProcessAPIServer, map[string]string{"shutdown-delay-duration": "0s"})
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{f}
	},
	// The last control plane's API server keeps ConfigMaps — the API traffic's objects —
	// in an etcd of its own (fault.SeparateEtcd): clients whose requests reach it read
	// and write a store the other API servers never see, as behind an API server left on
	// a stale or split etcd. Nothing else changes; every other resource stays shared.
	"apiServerSeparateStore": func(ctx context.Context, _ *topology.Spec, p cluster.Provider) []fault.Observable {
		planes := nodeNames(ctx, p, topology.RoleControlPlane)
		node := planes[len(planes)-1]
		store, err := fault.NewSeparateEtcd(p, node)
		Expect(err).NotTo(HaveOccurred())
		flags, err := fault.NewManifestFlags(p, node, fault.ProcessAPIServer, nil)
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{store, flags.WithAdded(map[string]string{"etcd-servers-overrides": "/configmaps#" + fault.SeparateEtcdURL})}
	},
	// cluster-admin bound to system:unauthenticated (fault.AnonymousAdmin): anyone may do
	// anything through any API server.
	"anonymousAPIAccess": func(ctx context.Context, _ *topology.Spec, p cluster.Provider) []fault.Observable {
		f, err := fault.NewAnonymousAdmin(p, nodeNames(ctx, p, topology.RoleControlPlane)[0])
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{f}
	},
	// The last control plane's stacked etcd member also serves clients in plaintext on
	// topology.PlaintextEtcdPort: its running --listen-client-urls with one more URL.
	"plaintextEtcdListener": func(ctx context.Context, spec *topology.Spec, p cluster.Provider) []fault.Observable {
		Expect(spec.Etcd.Mode).To(Equal(topology.EtcdStacked), "plaintextEtcdListener edits a stacked member's static Pod; external members are not static Pods")
		planes := nodeNames(ctx, p, topology.RoleControlPlane)
		node := planes[len(planes)-1]
		line, err := cluster.CommandLine(ctx, p, node, fault.ProcessEtcd)
		Expect(err).NotTo(HaveOccurred())
		listen := commandLineFlag(line, "listen-client-urls")
		Expect(listen).NotTo(BeEmpty(), "etcd on %s runs without --listen-client-urls: %s", node, line)
		f, err := fault.NewManifestFlags(p, node, fault.ProcessEtcd, map[string]string{
			"listen-client-urls": fmt.Sprintf("%s,http://0.0.0.0:%d", listen, topology.PlaintextEtcdPort),
		})
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{f}
	},
	// Every stacked etcd member's static Pod with restartPolicy Never
	// (fault.StaticPodNoRestart): a crashed member is never started again, so it never
	// rejoins. Every member, since the leader-crash spec crashes whichever leads; the
	// kubelet restarts each from its edited manifest, one after the other. The cleanups
	// undo them together, so etcd has no quorum for the seconds the members take to
	// restart (measured: the gate passed again within about a minute); the next run's
	// readiness gate waits for that.
	"etcdNotRestarted": func(ctx context.Context, spec *topology.Spec, p cluster.Provider) []fault.Observable {
		Expect(spec.Etcd.Mode).To(Equal(topology.EtcdStacked), "etcdNotRestarted edits stacked members' static Pods; external members are not static Pods")
		var out []fault.Observable
		for _, node := range nodeNames(ctx, p, topology.RoleControlPlane) {
			f, err := fault.NewStaticPodNoRestart(p, node, fault.ProcessEtcd)
			Expect(err).NotTo(HaveOccurred())
			out = append(out, f)
		}
		return out
	},
	// HAProxy without health checks and without redispatch (fault.LBNoChecks): a
	// frozen API server stays in rotation and clients keep reaching it.
	"lbWithoutHealthChecks": func(ctx context.Context, _ *topology.Spec, p cluster.Provider) []fault.Observable {
		lbs := nodeNames(ctx, p, topology.RoleLoadBalancer)
		Expect(lbs).To(HaveLen(1), "one load balancer container")
		f, err := fault.NewLBNoChecks(p, lbs[0])
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{f}
	},
	// HAProxy needing more good checks to take a server back than the Spec's rise: enough
	// that the good checks alone, fastinter apart, outlast twice the rise window the
	// Spec promises (topology.LoadBalancerSpec.RiseBeyond) — a recovered API server
	// stays out of rotation past its bound whatever the checks' latency.
	"lbSlowRise": func(ctx context.Context, spec *topology.Spec, p cluster.Provider) []fault.Observable {
		lbs := nodeNames(ctx, p, topology.RoleLoadBalancer)
		Expect(lbs).To(HaveLen(1), "one load balancer container")
		f, err := fault.NewLBRise(p, lbs[0], spec.LoadBalancer.RiseBeyond(2*spec.LoadBalancer.RiseWindow()))
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{f}
	},
	// HAProxy health-checks /healthz, as kind's and kubeadm's guides configure it: it
	// stays 200 while a stopping API server fails /readyz, so the LB keeps sending to it.
	"lbChecksHealthz": func(ctx context.Context, _ *topology.Spec, p cluster.Provider) []fault.Observable {
		lbs := nodeNames(ctx, p, topology.RoleLoadBalancer)
		Expect(lbs).To(HaveLen(1), "one load balancer container")
		f, err := fault.NewLBCheckPath(p, lbs[0], "/healthz")
		Expect(err).NotTo(HaveOccurred())
		return []fault.Observable{f}
	},
	// Scheduler and controller-manager restarted with upstream's leader-election timings
	// while the Spec promises its profile's: flags that drifted from what was certified.
	"staleLeaseTimings": func(ctx context.Context, _ *topology.Spec, p cluster.Provider) []fault.Observable {
		upstream, err := topology.Profile(topology.ProfileUpstream)
		Expect(err).NotTo(HaveOccurred())
		var out []fault.Observable
		for _, node := range nodeNames(ctx, p, topology.RoleControlPlane) {
			for component, le := range map[string]topology.LeaderElection{fault.ProcessScheduler: upstream.Scheduler, fault.ProcessControllerManager: upstream.ControllerManager} {
				f, err := fault.NewManifestFlags(p, node, component, map[string]string{
					"leader-elect-lease-duration": le.LeaseDuration.Duration.String(),
					"leader-elect-renew-deadline": le.RenewDeadline.Duration.String(),
					"leader-elect-retry-period":   le.RetryPeriod.Duration.String(),
				})
				Expect(err).NotTo(HaveOccurred())
				out = append(out, f)
			}
		}
		return out
	},
}

// SabotageNames lists the sabotages HACHAOS_SABOTAGE accepts.
func SabotageNames() []string {
	var names []string
	for n := range sabotages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// applySabotage applies the named sabotage to spec (workload sabotages) or the running
// topology (ledgered faults, recovered by a cleanup), one fault at a time, each seen in
// effect before the next (a sabotage that restarts every etcd member keeps its quorum),
// then waits until the cluster is ready again.
func applySabotage(ctx context.Context, name string, spec *topology.Spec, p cluster.Provider, injector *fault.Injector) {
	apply, ok := sabotages[name]
	Expect(ok).To(BeTrue(), "HACHAOS_SABOTAGE %q is not one of %s", name, strings.Join(SabotageNames(), ", "))
	progress("SABOTAGE (negative control): %s", name)
	faults := apply(ctx, spec, p)
	for _, f := range faults {
		// before the Inject: HAProxy's reload starts its new worker within milliseconds
		// of the signal, before an Inject's command has even returned (CI-sized evidence:
		// "the newest haproxy has run since 0.09 s before" a clock read after the Inject)
		since := time.Now()
		injected, err := injector.Prepare(f)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(injected.Recover)
		Expect(injected.Inject(ctx)).To(Succeed())
		err = pollUntil(ctx, spec.Waits.ComponentRestart.Duration, spec.Waits.Poll.Duration, func(ctx context.Context) error { return f.InEffect(ctx, since) })
		Expect(err).NotTo(HaveOccurred(), "the sabotage %s is not in effect: a control that did not apply detects nothing", f.Record())
		progress("sabotage in effect: %s", f.Record())
	}
	if len(faults) > 0 {
		Expect(readinessGate(ctx, *spec, p)).To(Succeed(), "the cluster is ready again after the sabotage %s", name)
	}
	AddReportEntry("sabotage", fmt.Sprintf("%s (%d faults, each seen in effect)", name, len(faults)))
}

// commandLineFlag is the value of --name=value in a command line ("" when absent).
func commandLineFlag(line, name string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}
