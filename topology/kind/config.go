package kind

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/hachaos/hachaos/topology"
)

// Where external etcd's TLS material appears inside control-plane nodes.
const (
	externalEtcdPKIDir = "/etc/kubernetes/pki/etcd-external"
	// kind copies /etc/kubernetes/pki/etcd/ca.{crt,key} from the first control plane to
	// the others after kubeadm init and fails when they are absent (kind's own TODO: it
	// does not consider external etcd). With external etcd kubeadm never uses them, so the
	// first control plane gets the etcd CA certificate and a throwaway key there.
	kindEtcdCADir = "/etc/kubernetes/pki/etcd"
)

// kindConfig translates a Spec into kind's v1alpha4 cluster configuration: the node list,
// the timeouts the guarantees depend on (as kubeadm patches), and external etcd wiring.
// externalEndpoints and pkiDir are empty for stacked etcd.
func kindConfig(spec topology.Spec, externalEndpoints []string, pkiDir string) (*v1alpha4.Cluster, error) {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     spec.Name,
	}
	for i := 0; i < spec.ControlPlanes; i++ {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: spec.Kubernetes.Image()})
	}
	for i := 0; i < spec.Workers; i++ {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: spec.Kubernetes.Image()})
	}
	t := spec.ResolvedTimeouts()
	if spec.Sabotage.StaleLeaseTimings {
		upstream, _ := topology.Profile(topology.ProfileUpstream)
		t.Scheduler, t.ControllerManager = upstream.Scheduler, upstream.ControllerManager
	}
	cfg.KubeadmConfigPatches = []string{kubeletPatch(t)}
	argPatches, err := extraArgsPatches(t)
	if err != nil {
		return nil, err
	}
	cfg.KubeadmConfigPatchesJSON6902 = argPatches
	if spec.Etcd.Mode == topology.EtcdExternal {
		addExternalEtcd(cfg, externalEndpoints, pkiDir)
	}
	return cfg, nil
}

// kubeletPatch sets the kubelet's side of node-failure detection and its crash-loop
// back-off cap. failCgroupV1=false lets Kubernetes >= 1.35 run on cgroup v1 hosts (it
// refuses them otherwise); on cgroup v2 it changes nothing.
func kubeletPatch(t topology.Timeouts) string {
	return fmt.Sprintf(`kind: KubeletConfiguration
failCgroupV1: false
nodeStatusUpdateFrequency: %s
nodeLeaseDurationSeconds: %d
crashLoopBackOff:
  maxContainerRestartPeriod: %s
`, t.NodeStatusUpdateFrequency.Duration, t.NodeLeaseDurationSeconds, t.MaxContainerRestartPeriod.Duration)
}

// extraArgsPatches adds flags to kubeadm's extraArgs lists with JSON 6902 patches: a
// merge patch would replace kind's own lists. kind's template leaves the scheduler's
// list empty (null) unless feature gates are set, and "add .../-" cannot append to null,
// so the scheduler's list is set whole; the others are appended to.
func extraArgsPatches(t topology.Timeouts) ([]v1alpha4.PatchJSON6902, error) {
	leader := func(le topology.LeaderElection) map[string]string {
		return map[string]string{
			"leader-elect-lease-duration": le.LeaseDuration.Duration.String(),
			"leader-elect-renew-deadline": le.RenewDeadline.Duration.String(),
			"leader-elect-retry-period":   le.RetryPeriod.Duration.String(),
		}
	}
	cm := leader(t.ControllerManager)
	cm["node-monitor-grace-period"] = t.NodeMonitorGracePeriod.Duration.String()
	cm["node-monitor-period"] = t.NodeMonitorPeriod.Duration.String()
	api := map[string]string{
		"default-not-ready-toleration-seconds":   fmt.Sprint(t.NotReadyTolerationSeconds),
		"default-unreachable-toleration-seconds": fmt.Sprint(t.UnreachableTolerationSeconds),
		// always written, also as 0s: the graceful-stop negative control replaces it
		"shutdown-delay-duration": t.APIServerShutdownDelay.Duration.String(),
	}
	ops := slices.Concat(appendArgs("/apiServer/extraArgs", api), appendArgs("/controllerManager/extraArgs", cm))
	ops = append(ops, map[string]any{"op": "add", "path": "/scheduler/extraArgs", "value": argList(leader(t.Scheduler))})
	patch, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encode kubeadm extraArgs patch: %w", err)
	}
	return []v1alpha4.PatchJSON6902{{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "ClusterConfiguration", Patch: string(patch)}}, nil
}

type arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// argList is kubeadm v1beta4's extraArgs form, sorted by name for a stable config.
func argList(args map[string]string) []arg {
	out := make([]arg, 0, len(args))
	for _, name := range slices.Sorted(maps.Keys(args)) {
		out = append(out, arg{name, args[name]})
	}
	return out
}

func appendArgs(path string, args map[string]string) []map[string]any {
	var ops []map[string]any
	for _, a := range argList(args) {
		ops = append(ops, map[string]any{"op": "add", "path": path + "/-", "value": a})
	}
	return ops
}

// addExternalEtcd points every API server at all external members (the reference design's
// layout) and mounts the client certificate into each control plane.
func addExternalEtcd(cfg *v1alpha4.Cluster, endpoints []string, pkiDir string) {
	quoted := make([]string, len(endpoints))
	for i, e := range endpoints {
		quoted[i] = fmt.Sprintf("%q", e)
	}
	cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, fmt.Sprintf(`kind: ClusterConfiguration
etcd:
  external:
    endpoints: [%s]
    caFile: %s/ca.crt
    certFile: %s/client.crt
    keyFile: %s/client.key
`, strings.Join(quoted, ", "), externalEtcdPKIDir, externalEtcdPKIDir, externalEtcdPKIDir))
	first := true
	for i := range cfg.Nodes {
		if cfg.Nodes[i].Role != v1alpha4.ControlPlaneRole {
			continue
		}
		cfg.Nodes[i].ExtraMounts = append(cfg.Nodes[i].ExtraMounts,
			v1alpha4.Mount{HostPath: pkiDir + "/apiserver", ContainerPath: externalEtcdPKIDir, Readonly: true})
		if first {
			cfg.Nodes[i].ExtraMounts = append(cfg.Nodes[i].ExtraMounts,
				v1alpha4.Mount{HostPath: pkiDir + "/kind-copy", ContainerPath: kindEtcdCADir, Readonly: true})
			first = false
		}
	}
}
