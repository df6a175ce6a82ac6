package cluster

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/topology"
)

// ReadComponentTimings reads the timing flags from the command lines of the etcd members
// (external ones: as the provider started them, their image has no shell; stacked ones:
// the running process on each control plane) and the kube-apiserver process on every
// control plane. Every member must run with the same values: a cluster whose members
// disagree has no one bound.
func ReadComponentTimings(ctx context.Context, p Provider) (topology.ComponentTimings, error) {
	planes, err := p.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return topology.ComponentTimings{}, err
	}
	external, err := p.Nodes(ctx, topology.RoleEtcd)
	if err != nil {
		return topology.ComponentTimings{}, err
	}
	etcd := map[string]string{}
	for _, n := range external {
		etcd[n.Name] = n.Command
	}
	if len(external) == 0 {
		if etcd, err = commandLines(ctx, p, planes, "etcd"); err != nil {
			return topology.ComponentTimings{}, err
		}
	}
	apiservers, err := commandLines(ctx, p, planes, "kube-apiserver")
	if err != nil {
		return topology.ComponentTimings{}, err
	}
	return topology.ParseComponentTimings(etcd, apiservers)
}

// CommandLine is the command line of process (its newest instance) on node.
func CommandLine(ctx context.Context, p Provider, node, process string) (string, error) {
	lines, err := commandLines(ctx, p, []topology.Node{{Name: node}}, process)
	return lines[node], err
}

// commandLines is the command line of process (its newest instance) on each node; for
// etcd, the node's own member (processScript says why).
func commandLines(ctx context.Context, p Provider, nodes []topology.Node, process string) (map[string]string, error) {
	out := map[string]string{}
	for _, node := range nodes {
		n := node.Name
		line, err := p.Exec(ctx, n, nil, "sh", "-c", processScript(process, n))
		if err != nil {
			return nil, fmt.Errorf("read the %s command line on %s: %w", process, n, err)
		}
		out[n] = string(line)
	}
	return out, nil
}

// processScript prints the command line of process on node. A node can run a second
// etcd beside its member (the harness's own separate store, fault.SeparateEtcd), so
// "the newest etcd" may not be the member: the member is the etcd named after its node,
// as kubeadm names it; failing that, the only etcd running. Several etcds, none named
// after the node, is an error rather than a guess.
func processScript(process, node string) string {
	if process != "etcd" {
		return fmt.Sprintf(`pid=$(pgrep -n -f '^%s( |$)') && tr '\0' ' ' </proc/$pid/cmdline`, process)
	}
	return fmt.Sprintf(`pid=$(pgrep -n -f '^etcd .*--name=%[1]s( |$)') || {
  set -- $(pgrep -f '^etcd( |$)')
  [ $# -eq 1 ] || { echo "$# etcd processes on %[1]s, none named --name=%[1]s: which is the member is unknown" >&2; exit 1; }
  pid=$1
}
tr '\0' ' ' </proc/$pid/cmdline`, node)
}

// ReadRoutingTimings reads what delays taking a lost node's Pods out of a Service: the
// kube-controller-manager command line on every control plane and kube-proxy's
// configuration (the kube-system/kube-proxy ConfigMap kubeadm writes).
func ReadRoutingTimings(ctx context.Context, p Provider) (topology.RoutingTimings, error) {
	planes, err := p.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return topology.RoutingTimings{}, err
	}
	managers, err := commandLines(ctx, p, planes, "kube-controller-manager")
	if err != nil {
		return topology.RoutingTimings{}, err
	}
	cfg, err := p.RESTConfig(ctx)
	if err != nil {
		return topology.RoutingTimings{}, err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return topology.RoutingTimings{}, err
	}
	cm, err := c.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		return topology.RoutingTimings{}, fmt.Errorf("read kube-proxy's configuration: %w", err)
	}
	return topology.ParseRoutingTimings(managers, cm.Data["config.conf"])
}
