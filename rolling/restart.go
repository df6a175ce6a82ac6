package rolling

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Input is what a rolling restart needs.
type Input struct {
	Spec     topology.Spec
	Provider cluster.Provider
	Progress topology.Progress
	Steps    *Steps
}

// restartLabel is the label a restart writes into a static Pod's manifest: a new
// manifest is what makes the kubelet replace the Pod, as kubeadm's upgrade does with
// new images.
const restartLabel = "hachaos.dev/restarted-at"

// StaticPods are the static Pods of a control-plane node in the order kubeadm upgrades
// them (etcd first, when stacked).
func StaticPods(spec topology.Spec) []string {
	pods := []string{fault.ProcessAPIServer, fault.ProcessControllerManager, fault.ProcessScheduler}
	if spec.Etcd.Mode == topology.EtcdStacked {
		pods = append([]string{"etcd"}, pods...)
	}
	return pods
}

// Components are what a rolling restart can restart on a control-plane node, in the
// order it does.
var Components = []string{"etcd", fault.ProcessAPIServer, fault.ProcessControllerManager, fault.ProcessScheduler, "kubelet"}

// RestartControlPlane restarts every control-plane node in turn: each static Pod, then
// the kubelet (only those named in only, when given), each step waiting until the new
// instance runs and the readiness gate passes. The first step that fails ends it.
func RestartControlPlane(ctx context.Context, in Input, only []string) error {
	for _, c := range only {
		if !slices.Contains(Components, c) {
			return fmt.Errorf("--components: %q is not one of %s", c, strings.Join(Components, ", "))
		}
	}
	chosen := func(c string) bool { return len(only) == 0 || slices.Contains(only, c) }
	planes, err := in.controlPlanes(ctx)
	if err != nil {
		return err
	}
	for _, n := range planes {
		node := n.Name
		for _, pod := range StaticPods(in.Spec) {
			if !chosen(pod) {
				continue
			}
			if err := in.stepOn(ctx, node, node+": restart "+pod, func(ctx context.Context) error { return in.restartStaticPod(ctx, node, pod) }); err != nil {
				return err
			}
		}
		if !chosen("kubelet") {
			continue
		}
		if err := in.step(ctx, node+": restart kubelet", func(ctx context.Context) error { return in.restartKubelet(ctx, node) }); err != nil {
			return err
		}
	}
	return nil
}

// step runs one step between a begin and an end line in the events file.
func (in Input) step(ctx context.Context, name string, do func(ctx context.Context) error) error {
	return in.stepOn(ctx, "", name, do)
}

// stepOn is step for a step that may restart a control plane's stacked etcd member:
// the end line says so (Step.Restarted) when node's etcd process started after the
// step began — seen, not assumed, as kubeadm restarts the member only when its
// manifest changes.
func (in Input) stepOn(ctx context.Context, node, name string, do func(ctx context.Context) error) error {
	begin := time.Now()
	in.Progress("▶ %s", name)
	if err := in.Steps.Write(Step{At: begin, Phase: PhaseBegin, Name: name}); err != nil {
		return err
	}
	err := do(ctx)
	end := Step{At: time.Now(), Phase: PhaseEnd, Name: name}
	if node != "" && in.Spec.Etcd.Mode == topology.EtcdStacked && in.restartedSince(ctx, node, "etcd", begin) {
		end.Restarted = []string{RestartedStackedEtcd}
		in.Progress("  %s: the stacked etcd member restarted", node)
	}
	if err != nil {
		end.Error = err.Error()
		in.Progress("✘ %s after %s: %v", name, time.Since(begin).Round(100*time.Millisecond), err)
	} else {
		in.Progress("✔ %s (%s)", name, time.Since(begin).Round(100*time.Millisecond))
	}
	if werr := in.Steps.Write(end); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// restartedSince says whether node's newest process named process started after since.
func (in Input) restartedSince(ctx context.Context, node, process string, since time.Time) bool {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return fault.NewestStartedSince(cctx, in.Provider, node, process, since) == nil
}

// restartStaticPod writes pod's manifest anew with a restart label (renamed into place:
// the kubelet never reads half a file), then waits for the new instance and the gate.
func (in Input) restartStaticPod(ctx context.Context, node, pod string) error {
	since := time.Now()
	manifest := "/etc/kubernetes/manifests/" + pod + ".yaml"
	tmp := "/etc/kubernetes/" + pod + ".restart"
	script := fmt.Sprintf(`set -e
grep -q '^  labels:$' %[1]s || { echo "%[1]s has no metadata.labels" >&2; exit 1; }
grep -v '%[3]s' %[1]s | sed 's|^  labels:$|  labels:\n    %[3]s: "%[4]d"|' > %[2]s
mv %[2]s %[1]s`, manifest, tmp, restartLabel, since.Unix())
	if _, err := in.Provider.Exec(ctx, node, nil, "sh", "-c", script); err != nil {
		return fmt.Errorf("write the new manifest of %s on %s: %w", pod, node, err)
	}
	return in.awaitNewInstance(ctx, node, pod, since)
}

// restartKubelet restarts the node's kubelet (systemd) and waits for the new one and
// the gate.
func (in Input) restartKubelet(ctx context.Context, node string) error {
	since := time.Now()
	if _, err := in.Provider.Exec(ctx, node, nil, "systemctl", "restart", "kubelet"); err != nil {
		return fmt.Errorf("restart the kubelet on %s: %w", node, err)
	}
	return in.awaitNewInstance(ctx, node, "(/usr/bin/)?kubelet", since)
}

// awaitNewInstance waits up to waits.componentRestart for a process started after
// since, then up to waits.clusterReady for the readiness gate.
func (in Input) awaitNewInstance(ctx context.Context, node, process string, since time.Time) error {
	if err := in.awaitProcess(ctx, node, process, since); err != nil {
		return err
	}
	w := in.Spec.Waits
	return cluster.NewGate(in.Spec, in.Provider).Wait(ctx, w.ClusterReady.Duration, w.Poll.Duration, in.Progress)
}

// awaitProcess waits up to waits.componentRestart for a process started after since.
func (in Input) awaitProcess(ctx context.Context, node, process string, since time.Time) error {
	w := in.Spec.Waits
	deadline := time.Now().Add(w.ComponentRestart.Duration)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fault.NewestStartedSince(cctx, in.Provider, node, process, since)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no new %s within waits.componentRestart (%s): %w", process, w.ComponentRestart, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.Poll.Duration / 4):
		}
	}
	in.Progress("  new %s on %s after %s", process, node, time.Since(since).Round(100*time.Millisecond))
	return nil
}

// controlPlanes are the topology's control-plane nodes; none is an error: a rolling
// operation that found nothing to roll must not report success.
func (in Input) controlPlanes(ctx context.Context) ([]topology.Node, error) {
	planes, err := in.Provider.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return nil, err
	}
	if len(planes) == 0 {
		return nil, fmt.Errorf("topology %q has no control-plane node: is it up?", in.Spec.Name)
	}
	return planes, nil
}
