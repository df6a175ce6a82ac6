package rolling

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Upgrade rolls the topology to Kubernetes version to the way kubeadm documents it, one
// node at a time: to's binaries and images staged in every node; `kubeadm upgrade
// apply` on the first control plane, `kubeadm upgrade node` on the others; then each
// control plane drained, its kubelet replaced and restarted, uncordoned; then each
// worker drained (its PDBs honoured: kubectl drain evicts), upgraded, its kubelet
// replaced, uncordoned. Unlike kubeadm's guide, no kubelet is upgraded before every API
// server is (the version-skew policy). Every step waits for the readiness gate.
// Stacked etcd is upgraded by kubeadm with its control plane, external members first,
// one by one, where to's etcd is newer (upgradeExternalEtcd). Every `kubeadm upgrade`
// applies patches (none when empty). A control plane's kubeadm step that
// restarts its stacked etcd member says so on its end line (Step.Restarted). Each
// control plane is out of the load balancer's rotation around its kubeadm step and
// around its kubelet's replacement, back once it serves a read (outOfRotation).
func Upgrade(ctx context.Context, in Input, to string, patches Patches, staged bool) error {
	if err := in.checkUpgrade(ctx, to); err != nil {
		return err
	}
	if !staged {
		if err := Stage(ctx, in, to); err != nil {
			return err
		}
	}
	if err := in.upgradeExternalEtcd(ctx, to); err != nil {
		return err
	}
	planes, err := in.controlPlanes(ctx)
	if err != nil {
		return err
	}
	workers, err := in.Provider.Nodes(ctx, topology.RoleWorker)
	if err != nil {
		return err
	}
	admin := planes[0].Name // kubectl drain runs here, with its admin.conf
	// Every control plane's components first, then the kubelets: the version-skew policy
	// allows no kubelet newer than any API server, so a kubelet upgraded right after its
	// own node's `upgrade apply` (the order of kubeadm's guide) would be newer than the
	// API servers not yet upgraded.
	for i, n := range planes {
		node, verb := n.Name, "kubeadm upgrade node"
		if i == 0 {
			verb = "kubeadm upgrade apply " + to
		}
		if err := in.outOfRotation(ctx, node, func() error {
			return in.stepOn(ctx, node, node+": "+verb, func(ctx context.Context) error { return in.kubeadmUpgrade(ctx, node, to, i == 0, patches) })
		}); err != nil {
			return err
		}
	}
	for _, n := range planes {
		if err := in.outOfRotation(ctx, n.Name, func() error { return in.upgradeKubelet(ctx, admin, n.Name, to, true) }); err != nil {
			return err
		}
	}
	for _, n := range workers {
		node := n.Name
		if err := in.step(ctx, node+": kubeadm upgrade node", func(ctx context.Context) error { return in.kubeadmUpgrade(ctx, node, to, false, patches) }); err != nil {
			return err
		}
		if err := in.upgradeKubelet(ctx, admin, node, to, false); err != nil {
			return err
		}
	}
	return nil
}

// Stage makes to's binaries and images available in every node (the provider's
// cluster.VersionStager): what an operator pre-pulls before the upgrade, and what kinder
// bakes into its node image. It is a step of its own, so that a certification can run it
// before the monitor starts: importing seven images into five nodes on 2 cores slowed
// the API servers past the monitor's 2 s client timeout (2 requests, v1.36.3 → v1.37.2).
func Stage(ctx context.Context, in Input, to string) error {
	stager, ok := in.Provider.(cluster.VersionStager)
	if !ok {
		return fmt.Errorf("the provider cannot make Kubernetes %s available in its nodes (no cluster.VersionStager)", to)
	}
	if _, err := in.controlPlanes(ctx); err != nil {
		return err
	}
	return in.step(ctx, "stage "+to+" in every node", func(ctx context.Context) error { return stager.StageVersion(ctx, to, in.Progress) })
}

// checkUpgrade refuses what kubeadm refuses: a downgrade, or more than one minor at once.
func (in Input) checkUpgrade(ctx context.Context, to string) error {
	return CheckUpgrade(in.Spec.Kubernetes.Version, to)
}

// CheckUpgrade is why kubeadm would refuse to upgrade from to to — not both versions,
// a downgrade, another major, or more than one minor at once — or nil.
func CheckUpgrade(from, to string) error {
	target, err := version.ParseSemantic(to)
	if err != nil {
		return fmt.Errorf("--to: %q is not a Kubernetes version like v1.37.2", to)
	}
	current, err := version.ParseSemantic(from)
	if err != nil {
		return fmt.Errorf("kubernetes.version %q: %w", from, err)
	}
	if !current.LessThan(target) || target.Major() != current.Major() || target.Minor() > current.Minor()+1 {
		return fmt.Errorf("--to %s: kubeadm upgrades one minor version at a time, forward only: from %s to %s is not one", to, from, to)
	}
	return nil
}

// kubeadmUpgrade installs to's kubeadm on node and runs `kubeadm upgrade apply` (first)
// or `kubeadm upgrade node`, with the patches; kubeadm itself waits for each new static Pod.
func (in Input) kubeadmUpgrade(ctx context.Context, node, to string, first bool, patches Patches) error {
	if err := patches.install(ctx, in.Provider, node); err != nil {
		return err
	}
	// SystemVerification checks the host's kernel and cgroups, which a node in a
	// container shares with the host: kind skips it at init and join, and so does this.
	cmd := "kubeadm upgrade node --ignore-preflight-errors=SystemVerification"
	if first {
		cmd = "kubeadm upgrade apply " + to + " --yes --ignore-preflight-errors=SystemVerification"
	}
	cmd += patches.kubeadmFlag()
	script := fmt.Sprintf("set -e\ninstall -m 0755 %s/kubeadm /usr/bin/kubeadm\n%s", cluster.StagedBinDir(to), cmd)
	if out, err := in.Provider.Exec(ctx, node, nil, "sh", "-c", script+" 2>&1"); err != nil {
		return fmt.Errorf("%s on %s: %w\n%s", cmd, node, err, tail(string(out), 20))
	}
	return cluster.NewGate(in.Spec, in.Provider).Wait(ctx, in.Spec.Waits.ClusterReady.Duration, in.Spec.Waits.Poll.Duration, in.Progress)
}

// upgradeKubelet drains node, installs to's kubelet and kubectl, restarts the kubelet,
// waits for it and the gate, and uncordons: three steps on the timeline. On a control
// plane the API server is stopped gracefully around the kubelet's replacement (two more
// steps): a kubelet of the next minor restarts the static Pods it finds running (the
// hash it gives a manifest changes), and measured v1.36.3 → v1.37.2 each node's API
// server then reset its connections within a second — no shutdown delay, so the LB
// still sent it requests (7–9 failed per node). Stopped through its parked manifest it
// fails /readyz for the shutdown delay first and leaves the LB without a failed request,
// and the new kubelet starts it from the manifest put back.
func (in Input) upgradeKubelet(ctx context.Context, admin, node, to string, controlPlane bool) error {
	kubectl := "kubectl --kubeconfig /etc/kubernetes/admin.conf "
	if err := in.step(ctx, node+": drain", func(ctx context.Context) error {
		_, err := in.Provider.Exec(ctx, admin, nil, "sh", "-c", kubectl+"drain "+node+" --ignore-daemonsets --delete-emptydir-data --timeout "+in.Spec.Waits.ComponentRestart.Duration.String()+" 2>&1")
		return err
	}); err != nil {
		return err
	}
	// the new kubelet restarts the static Pods whose hash changed, a stacked etcd member
	// among them, while its API server is stopped or once it is back: both steps say so
	// when it did (stepOn), as a kubeadm step does
	etcdNode := ""
	var stopped *fault.Injected
	if controlPlane {
		etcdNode = node
		var err error
		if stopped, err = in.stopAPIServer(ctx, node); err != nil {
			return in.withRecovery(ctx, stopped, err)
		}
	}
	if err := in.stepOn(ctx, etcdNode, node+": kubelet "+to, func(ctx context.Context) error {
		since := time.Now()
		dir := cluster.StagedBinDir(to)
		script := fmt.Sprintf("set -e\ninstall -m 0755 %[1]s/kubectl /usr/bin/kubectl\ninstall -m 0755 %[1]s/kubelet /usr/bin/kubelet.new\nmv /usr/bin/kubelet.new /usr/bin/kubelet\nsystemctl daemon-reload\nsystemctl restart kubelet", dir)
		if _, err := in.Provider.Exec(ctx, node, nil, "sh", "-c", script); err != nil {
			return fmt.Errorf("install and restart the kubelet on %s: %w", node, err)
		}
		if stopped != nil {
			// no readiness gate yet: a control plane's kubelet talks to its own API
			// server (kubeadm's ControlPlaneKubeletLocalMode), stopped until the next step
			return in.awaitProcess(ctx, node, "(/usr/bin/)?kubelet", since)
		}
		return in.awaitNewInstance(ctx, node, "(/usr/bin/)?kubelet", since)
	}); err != nil {
		return in.withRecovery(ctx, stopped, err)
	}
	if stopped != nil {
		if err := in.stepOn(ctx, etcdNode, node+": start kube-apiserver", func(ctx context.Context) error {
			since := time.Now()
			if err := stopped.Recover(ctx); err != nil {
				return in.withRecovery(ctx, stopped, err) // once more, past a Ctrl-C
			}
			return in.awaitNewInstance(ctx, node, fault.ProcessAPIServer, since)
		}); err != nil {
			return err
		}
	}
	return in.step(ctx, node+": uncordon", func(ctx context.Context) error {
		_, err := in.Provider.Exec(ctx, admin, nil, "sh", "-c", kubectl+"uncordon "+node)
		return err
	})
}

// stopAPIServer stops node's API server gracefully (fault.APIServerStop: its manifest
// parked), and waits until no kube-apiserver runs.
func (in Input) stopAPIServer(ctx context.Context, node string) (*fault.Injected, error) {
	var stopped *fault.Injected
	err := in.step(ctx, node+": stop kube-apiserver gracefully", func(ctx context.Context) error {
		var err error
		stopped, err = in.injectThroughLedger(ctx, fault.NewAPIServerStop(in.Provider, node), "kube-apiserver still runs on "+node)
		return err
	})
	return stopped, err
}

// injectThroughLedger injects f recorded in the fault ledger first, so that an upgrade
// interrupted before it recovers f is undone by the next run or `hachaos recover`, and
// waits up to waits.componentRestart for f to be in effect (notYet says what is not).
func (in Input) injectThroughLedger(ctx context.Context, f fault.Observable, notYet string) (*fault.Injected, error) {
	local, ok := in.Provider.(cluster.Local)
	if !ok {
		return nil, fmt.Errorf("the provider keeps no fault ledger (cluster.Local): what this step stops could not be recovered after an interruption")
	}
	injected, err := fault.NewInjector(fault.OpenLedger(local.LedgerPath()), in.Provider).Prepare(f)
	if err != nil {
		return nil, err
	}
	if err := injected.Inject(ctx); err != nil {
		return injected, err
	}
	w := in.Spec.Waits
	if err := probe.PollUntil(ctx, w.ComponentRestart.Duration, w.Poll.Duration/4, w.ComponentRestart.Duration, func(ctx context.Context) error {
		return f.InEffect(ctx, time.Time{})
	}); err != nil {
		return injected, fmt.Errorf("%s after waits.componentRestart (%s): %w", notYet, w.ComponentRestart, err)
	}
	return injected, nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
