// Package existing is the provider for HA clusters hachaos did not create (issue #14):
// given only a kubeconfig, it discovers the topology from the Kubernetes API —
// control-plane and worker nodes, the control-plane components from their mirror Pods,
// the etcd layout from kube-apiserver's --etcd-servers, the load balancer as the
// kubeconfig's server — checks it against what a Spec expects, and acts in the nodes
// through a node agent of hachaos' own (a privileged DaemonSet, Agent) started for a run
// and removed after it. It never creates, recreates or deletes the cluster, and it has
// no machines to stop, pause or limit: faults that need those are skipped with the
// reason. It must not inject faults or judge guarantees.
package existing

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/topology"
)

// ControlPlaneLabel marks control-plane nodes (kubeadm sets it).
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// Components are the control-plane components discovered per node, by the "component"
// label kubeadm gives their static Pods.
var Components = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}

// Node is a discovered node.
type Node struct {
	Name       string
	Address    string          // InternalIP
	Components map[string]bool // the mirror Pods of control-plane components on it
}

// Topology is what the cluster is, as its API shows it.
type Topology struct {
	LoadBalancer  string // the kubeconfig's server: host:port
	ControlPlanes []Node
	Workers       []Node
	EtcdMode      topology.EtcdMode
	EtcdMembers   []string // client URLs from kube-apiserver's --etcd-servers
	// EtcdServersFrom is the node whose kube-apiserver the etcd URLs were read from.
	EtcdServersFrom string
}

// Discover reads the topology from the API behind client; server is the kubeconfig's
// server URL (the load balancer clients use).
func Discover(ctx context.Context, client kubernetes.Interface, server string) (Topology, error) {
	lb, err := hostPort(server)
	if err != nil {
		return Topology{}, err
	}
	t := Topology{LoadBalancer: lb}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Topology{}, fmt.Errorf("list nodes: %w", err)
	}
	pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil {
		return Topology{}, fmt.Errorf("list the control-plane Pods in kube-system: %w", err)
	}
	onNode := componentsByNode(pods.Items)
	for _, n := range nodes.Items {
		d := Node{Name: n.Name, Address: internalIP(n), Components: onNode[n.Name]}
		if _, ok := n.Labels[ControlPlaneLabel]; ok {
			t.ControlPlanes = append(t.ControlPlanes, d)
		} else {
			t.Workers = append(t.Workers, d)
		}
	}
	sortNodes(t.ControlPlanes)
	sortNodes(t.Workers)
	t.EtcdServersFrom, t.EtcdMembers = etcdServers(pods.Items)
	t.EtcdMode = etcdMode(t)
	return t, nil
}

// componentsByNode maps each node to the control-plane components whose mirror Pods run there.
func componentsByNode(pods []corev1.Pod) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, p := range pods {
		c := p.Labels["component"]
		if c == "" || p.Spec.NodeName == "" {
			continue
		}
		if out[p.Spec.NodeName] == nil {
			out[p.Spec.NodeName] = map[string]bool{}
		}
		out[p.Spec.NodeName][c] = true
	}
	return out
}

// etcdServers is --etcd-servers of the first kube-apiserver mirror Pod (by node name)
// that has it, and that node.
func etcdServers(pods []corev1.Pod) (node string, urls []string) {
	sort.Slice(pods, func(i, j int) bool { return pods[i].Spec.NodeName < pods[j].Spec.NodeName })
	for _, p := range pods {
		if p.Labels["component"] != "kube-apiserver" {
			continue
		}
		for _, c := range p.Spec.Containers {
			for _, arg := range append(append([]string{}, c.Command...), c.Args...) {
				if v, ok := strings.CutPrefix(arg, "--etcd-servers="); ok {
					return p.Spec.NodeName, strings.Split(v, ",")
				}
			}
		}
	}
	return "", nil
}

// etcdMode is stacked when etcd runs as a static Pod beside every API server and the
// API servers reach it on their own node (loopback or the node's address); external
// otherwise. Unknown ("") when no API server showed its --etcd-servers.
func etcdMode(t Topology) topology.EtcdMode {
	if len(t.EtcdMembers) == 0 {
		return ""
	}
	local := map[string]bool{"127.0.0.1": true, "localhost": true, "::1": true}
	for _, n := range t.ControlPlanes {
		if n.Name == t.EtcdServersFrom {
			local[n.Address] = true
		}
	}
	for _, n := range t.ControlPlanes {
		if !n.Components["etcd"] {
			return topology.EtcdExternal
		}
	}
	for _, u := range t.EtcdMembers {
		host, err := hostOf(u)
		if err != nil || !local[host] {
			return topology.EtcdExternal
		}
	}
	return topology.EtcdStacked
}

// Check compares the discovered topology with what spec expects (counts, etcd mode and
// members) and returns every difference, each naming the Spec field.
func (t Topology) Check(spec topology.Spec) []string {
	var diffs []string
	if len(t.ControlPlanes) != spec.ControlPlanes {
		diffs = append(diffs, fmt.Sprintf("controlPlanes: the Spec expects %d, the cluster has %d (%s)", spec.ControlPlanes, len(t.ControlPlanes), names(t.ControlPlanes)))
	}
	if len(t.Workers) != spec.Workers {
		diffs = append(diffs, fmt.Sprintf("workers: the Spec expects %d, the cluster has %d (%s)", spec.Workers, len(t.Workers), names(t.Workers)))
	}
	switch {
	case t.EtcdMode == "":
		diffs = append(diffs, "etcd.mode: no kube-apiserver mirror Pod shows --etcd-servers, so the etcd layout is unknown")
	case t.EtcdMode != spec.Etcd.Mode:
		diffs = append(diffs, fmt.Sprintf("etcd.mode: the Spec expects %s, the cluster runs %s etcd (%s)", spec.Etcd.Mode, t.EtcdMode, strings.Join(t.EtcdMembers, ",")))
	}
	if t.EtcdMode == topology.EtcdStacked && t.stackedMembers() != spec.Etcd.Members {
		diffs = append(diffs, fmt.Sprintf("etcd.members: the Spec expects %d, %d control planes run an etcd member", spec.Etcd.Members, t.stackedMembers()))
	}
	if t.EtcdMode == topology.EtcdExternal && len(t.EtcdMembers) != spec.Etcd.Members {
		diffs = append(diffs, fmt.Sprintf("etcd.members: the Spec expects %d, kube-apiserver on %s names %d", spec.Etcd.Members, t.EtcdServersFrom, len(t.EtcdMembers)))
	}
	for _, n := range t.ControlPlanes {
		for _, c := range Components {
			if c == "etcd" && t.EtcdMode != topology.EtcdStacked {
				continue
			}
			if !n.Components[c] {
				diffs = append(diffs, fmt.Sprintf("control plane %s: no %s mirror Pod (component=%s in kube-system)", n.Name, c, c))
			}
		}
	}
	return diffs
}

// String is the topology as people read it.
func (t Topology) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "load balancer  %s (the kubeconfig's server)\n", t.LoadBalancer)
	for _, n := range t.ControlPlanes {
		fmt.Fprintf(&b, "control plane  %s %s: %s\n", n.Name, n.Address, componentList(n))
	}
	for _, n := range t.Workers {
		fmt.Fprintf(&b, "worker         %s %s\n", n.Name, n.Address)
	}
	mode := string(t.EtcdMode)
	if mode == "" {
		mode = "unknown"
	}
	if t.EtcdMode == topology.EtcdStacked {
		fmt.Fprintf(&b, "etcd           stacked, %d members (an etcd static Pod on each control plane; kube-apiserver on %s uses its own: %s)\n", t.stackedMembers(), t.EtcdServersFrom, strings.Join(t.EtcdMembers, ","))
	} else {
		fmt.Fprintf(&b, "etcd           %s, %d members: %s (kube-apiserver --etcd-servers on %s)\n", mode, len(t.EtcdMembers), strings.Join(t.EtcdMembers, ","), t.EtcdServersFrom)
	}
	return b.String()
}

// stackedMembers counts the control planes with an etcd mirror Pod.
func (t Topology) stackedMembers() int {
	n := 0
	for _, cp := range t.ControlPlanes {
		if cp.Components["etcd"] {
			n++
		}
	}
	return n
}

func componentList(n Node) string {
	var present []string
	for _, c := range Components {
		if n.Components[c] {
			present = append(present, c)
		}
	}
	if len(present) == 0 {
		return "no control-plane mirror Pods"
	}
	return strings.Join(present, ", ")
}

func names(nodes []Node) string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return strings.Join(out, ", ")
}

func sortNodes(nodes []Node) {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
}

func internalIP(n corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// hostPort is a server URL's host:port (port 443 when the URL has none).
func hostPort(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("the kubeconfig's server %q is not a URL with a host", server)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443"), nil
	}
	return u.Host, nil
}

// hostOf is a URL's host name or address.
func hostOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("not a URL with a host: %q", raw)
	}
	return u.Hostname(), nil
}
