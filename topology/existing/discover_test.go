package existing

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/hachaos/hachaos/topology"
)

func node(name, ip string, controlPlane bool) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}}}
	if controlPlane {
		n.Labels[ControlPlaneLabel] = ""
	}
	return n
}

func mirrorPod(component, node string, command ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: component + "-" + node, Namespace: "kube-system", Labels: map[string]string{"component": component, "tier": "control-plane"}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: component, Command: command}}},
	}
}

// kubeadmCluster is 3 control planes and 2 workers as kubeadm lays them out; etcdServers
// is the API servers' --etcd-servers, and stackedEtcd puts an etcd Pod on each control plane.
func kubeadmCluster(etcdServers string, stackedEtcd bool) []runtime.Object {
	objs := []runtime.Object{node("w1", "10.0.0.21", false), node("w2", "10.0.0.22", false)}
	for i, cp := range []string{"cp1", "cp2", "cp3"} {
		objs = append(objs, node(cp, "10.0.0."+string(rune('1'+i)), true),
			mirrorPod("kube-apiserver", cp, "kube-apiserver", "--advertise-address=10.0.0.1", "--etcd-servers="+etcdServers),
			mirrorPod("kube-controller-manager", cp, "kube-controller-manager"),
			mirrorPod("kube-scheduler", cp, "kube-scheduler"))
		if stackedEtcd {
			objs = append(objs, mirrorPod("etcd", cp, "etcd"))
		}
	}
	return objs
}

func spec(mode topology.EtcdMode) topology.Spec {
	s := topology.Default()
	s.Etcd.Mode = mode
	return s
}

func TestDiscoverReadsTheLayoutFromTheAPI(t *testing.T) {
	cases := []struct {
		name     string
		objs     []runtime.Object
		wantMode topology.EtcdMode
		members  int
	}{
		{"stacked (kubeadm's default: each API server on its own member)", kubeadmCluster("https://127.0.0.1:2379", true), topology.EtcdStacked, 1},
		{"external", kubeadmCluster("https://10.0.1.1:2379,https://10.0.1.2:2379,https://10.0.1.3:2379", false), topology.EtcdExternal, 3},
	}
	for _, c := range cases {
		got, err := Discover(context.Background(), fake.NewSimpleClientset(c.objs...), "https://10.0.0.100:6443")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.EtcdMode != c.wantMode || len(got.EtcdMembers) != c.members || len(got.ControlPlanes) != 3 || len(got.Workers) != 2 || got.LoadBalancer != "10.0.0.100:6443" {
			t.Errorf("%s: discovered\n%s", c.name, got)
		}
		if diffs := got.Check(spec(c.wantMode)); len(diffs) > 0 {
			t.Errorf("%s: differences from a Spec that matches: %v", c.name, diffs)
		}
	}
}

// Every difference from the Spec is named, all at once.
func TestCheckNamesEveryDifference(t *testing.T) {
	objs := kubeadmCluster("https://10.0.1.1:2379", false)
	objs = objs[1:] // one worker fewer
	got, err := Discover(context.Background(), fake.NewSimpleClientset(objs...), "https://lb.example:6443")
	if err != nil {
		t.Fatal(err)
	}
	diffs := strings.Join(got.Check(spec(topology.EtcdStacked)), "\n")
	for _, want := range []string{"workers: the Spec expects 2, the cluster has 1", "etcd.mode: the Spec expects stacked, the cluster runs external etcd"} {
		if !strings.Contains(diffs, want) {
			t.Errorf("differences\n%s\nwant one containing %q", diffs, want)
		}
	}
	noEtcdFlag := []runtime.Object{node("cp1", "10.0.0.1", true), mirrorPod("kube-apiserver", "cp1", "kube-apiserver")}
	got, _ = Discover(context.Background(), fake.NewSimpleClientset(noEtcdFlag...), "https://lb:6443")
	if diffs := strings.Join(got.Check(spec(topology.EtcdStacked)), "\n"); !strings.Contains(diffs, "etcd layout is unknown") || !strings.Contains(diffs, "no kube-scheduler mirror Pod") {
		t.Errorf("a cluster without --etcd-servers or a scheduler: %s", diffs)
	}
}

func TestDiscoverRefusesAServerThatIsNoURL(t *testing.T) {
	if _, err := Discover(context.Background(), fake.NewSimpleClientset(), "not a url"); err == nil {
		t.Error("no error for a server that is no URL")
	}
}
