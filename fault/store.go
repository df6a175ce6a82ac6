package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindSeparateEtcd, func(t Topology, r Record) Fault { return SeparateEtcd{topo: t, Node: r.Target} })
}

// KindSeparateEtcd is the registry key of SeparateEtcd.
const KindSeparateEtcd = "separate-etcd"

// The separate etcd's static Pod, ports (loopback only) and data.
const (
	separateEtcdName     = "hachaos-separate-etcd"
	separateEtcdManifest = "/etc/kubernetes/manifests/" + separateEtcdName + ".yaml"
	separateEtcdData     = "/var/lib/" + separateEtcdName
	// SeparateEtcdURL is where the separate etcd serves clients, on its node's loopback.
	SeparateEtcdURL = "http://127.0.0.1:23790"
)

// SeparateEtcd runs a single-member etcd of its own on a control plane (a static Pod
// from the node's etcd image, plain HTTP on loopback, an empty data directory), for the
// negative control of the API consistency guarantees: one API server told to keep a
// resource there (--etcd-servers-overrides) answers from a store the others never see —
// what an API server left on a stale or split etcd does. It breaks nothing by itself;
// Recover removes the Pod and its data.
type SeparateEtcd struct {
	topo Topology
	Node string
}

// NewSeparateEtcd prepares a separate etcd on node (a stacked control plane: its image
// is taken from the node's etcd manifest).
func NewSeparateEtcd(t Topology, node string) (SeparateEtcd, error) {
	if node == "" {
		return SeparateEtcd{}, fmt.Errorf("separate etcd: node is required")
	}
	return SeparateEtcd{topo: t, Node: node}, nil
}

// Record implements Fault.
func (f SeparateEtcd) Record() Record { return Record{Kind: KindSeparateEtcd, Target: f.Node} }

// Needs implements Fault: a second etcd as a static Pod in the node.
func (f SeparateEtcd) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

// separateEtcdPod is the static Pod; $image is filled in by the shell from the node's
// etcd manifest.
const separateEtcdPod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  namespace: kube-system
  labels: {app.kubernetes.io/managed-by: hachaos}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: etcd
    image: $image
    command: [etcd, --name=%[1]s, --data-dir=/var/lib/etcd, --listen-client-urls=%[2]s, --advertise-client-urls=%[2]s,
      --listen-peer-urls=http://127.0.0.1:23800, --initial-advertise-peer-urls=http://127.0.0.1:23800,
      --initial-cluster=%[1]s=http://127.0.0.1:23800, --listen-metrics-urls=http://127.0.0.1:23810]
    volumeMounts: [{name: data, mountPath: /var/lib/etcd}]
  volumes: [{name: data, hostPath: {path: %[3]s, type: DirectoryOrCreate}}]
`

// Inject implements Fault; the manifest is written beside and renamed into place.
func (f SeparateEtcd) Inject(ctx context.Context) error {
	pod := fmt.Sprintf(separateEtcdPod, separateEtcdName, SeparateEtcdURL, separateEtcdData)
	return shIn(ctx, f.topo, f.Node, fmt.Sprintf(`set -e
image=$(sed -n 's/^ *image: *//p' /etc/kubernetes/manifests/etcd.yaml 2>/dev/null | head -1)
[ -n "$image" ] || { echo 'no etcd static Pod on this node to take the image from (the separate etcd needs a stacked control plane)' >&2; exit 1; }
cat > /etc/kubernetes/%[1]s.yaml <<HACHAOS_POD
%[3]sHACHAOS_POD
mv /etc/kubernetes/%[1]s.yaml %[2]s`, separateEtcdName, separateEtcdManifest, pod))
}

// Recover implements Fault: the kubelet stops the Pod once its manifest is gone.
func (f SeparateEtcd) Recover(ctx context.Context) error {
	return shIn(ctx, f.topo, f.Node, fmt.Sprintf("rm -f %s && rm -rf %s", separateEtcdManifest, separateEtcdData))
}

// InEffect implements Observable: the separate etcd runs and answers its health check.
func (f SeparateEtcd) InEffect(ctx context.Context, _ time.Time) error {
	// the node has no curl: bash's /dev/tcp asks for /health
	check := fmt.Sprintf(`pgrep -f -- '--name=%s' >/dev/null && exec 3<>/dev/tcp/127.0.0.1/23790 && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && grep -q '"health":"true"' <&3`, separateEtcdName)
	if _, err := f.topo.Exec(ctx, f.Node, nil, "bash", "-c", check); err != nil {
		return fmt.Errorf("the separate etcd on %s does not run and answer yet: %w", f.Node, err)
	}
	return nil
}
