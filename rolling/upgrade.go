package rolling

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Upgrade rolls the topology to Kubernetes version to the way kubeadm documents it, one
// node at a time: to's binaries and images staged in every node; `kubeadm upgrade
// apply` on the first control plane, `kubeadm upgrade node` on the others; then each
// control plane drained, its kubelet replaced and restarted, uncordoned; then each
// worker drained (its PDBs honoured: kubectl drain evicts), upgraded, its kubelet
// replaced, uncordoned. Unlike kubeadm's guide, no kubelet is upgraded before every API
// server is (the version-skew policy). Every step waits
// for the readiness gate. Stacked etcd is upgraded by kubeadm with its control plane;
// external members are not touched (see the closing note of #12). Every `kubeadm
// upgrade` applies patches (none when empty). A control plane's kubeadm step that
// restarts its stacked etcd member says so on its end line (Step.Restarted).
func Upgrade(ctx context.Context, in Input, to string, patches Patches) error {
	if err := in.checkUpgrade(ctx, to); err != nil {
		return err
	}
	stager, ok := in.Provider.(cluster.VersionStager)
	if !ok {
		return fmt.Errorf("the provider cannot make Kubernetes %s available in its nodes (no cluster.VersionStager)", to)
	}
	if err := in.step(ctx, "stage "+to+" in every node", func(ctx context.Context) error { return stager.StageVersion(ctx, to, in.Progress) }); err != nil {
		return err
	}
	planes, err := in.Provider.Nodes(ctx, topology.RoleControlPlane)
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
		if err := in.stepOn(ctx, node, node+": "+verb, func(ctx context.Context) error { return in.kubeadmUpgrade(ctx, node, to, i == 0, patches) }); err != nil {
			return err
		}
	}
	for _, n := range planes {
		if err := in.upgradeKubelet(ctx, admin, n.Name, to); err != nil {
			return err
		}
	}
	for _, n := range workers {
		node := n.Name
		if err := in.step(ctx, node+": kubeadm upgrade node", func(ctx context.Context) error { return in.kubeadmUpgrade(ctx, node, to, false, patches) }); err != nil {
			return err
		}
		if err := in.upgradeKubelet(ctx, admin, node, to); err != nil {
			return err
		}
	}
	return nil
}

// checkUpgrade refuses what kubeadm refuses: a downgrade, or more than one minor at once.
func (in Input) checkUpgrade(ctx context.Context, to string) error {
	target, err := version.ParseSemantic(to)
	if err != nil {
		return fmt.Errorf("--to: %q is not a Kubernetes version like v1.37.2", to)
	}
	from, err := version.ParseSemantic(in.Spec.Kubernetes.Version)
	if err != nil {
		return fmt.Errorf("kubernetes.version %q: %w", in.Spec.Kubernetes.Version, err)
	}
	if !from.LessThan(target) || target.Minor() > from.Minor()+1 {
		return fmt.Errorf("--to %s: kubeadm upgrades one minor version at a time, forward only: from %s to %s is not one", to, in.Spec.Kubernetes.Version, to)
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
// waits for it and the gate, and uncordons: three steps on the timeline.
func (in Input) upgradeKubelet(ctx context.Context, admin, node, to string) error {
	kubectl := "kubectl --kubeconfig /etc/kubernetes/admin.conf "
	if err := in.step(ctx, node+": drain", func(ctx context.Context) error {
		_, err := in.Provider.Exec(ctx, admin, nil, "sh", "-c", kubectl+"drain "+node+" --ignore-daemonsets --delete-emptydir-data --timeout "+in.Spec.Waits.ComponentRestart.Duration.String()+" 2>&1")
		return err
	}); err != nil {
		return err
	}
	if err := in.step(ctx, node+": kubelet "+to, func(ctx context.Context) error {
		since := time.Now()
		dir := cluster.StagedBinDir(to)
		script := fmt.Sprintf("set -e\ninstall -m 0755 %[1]s/kubectl /usr/bin/kubectl\ninstall -m 0755 %[1]s/kubelet /usr/bin/kubelet.new\nmv /usr/bin/kubelet.new /usr/bin/kubelet\nsystemctl daemon-reload\nsystemctl restart kubelet", dir)
		if _, err := in.Provider.Exec(ctx, node, nil, "sh", "-c", script); err != nil {
			return fmt.Errorf("install and restart the kubelet on %s: %w", node, err)
		}
		return in.awaitNewInstance(ctx, node, "(/usr/bin/)?kubelet", since)
	}); err != nil {
		return err
	}
	return in.step(ctx, node+": uncordon", func(ctx context.Context) error {
		_, err := in.Provider.Exec(ctx, admin, nil, "sh", "-c", kubectl+"uncordon "+node)
		return err
	})
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
