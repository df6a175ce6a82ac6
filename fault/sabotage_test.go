package fault

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestManifestFlagsEditsAManifestBesideAndPutsItBack(t *testing.T) {
	topo := &fakeTopology{}
	f, err := NewManifestFlags(topo, "cp3", ProcessScheduler, map[string]string{"leader-elect": "false"})
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := Rebuild(topo, f.Record())
	if err != nil || rebuilt.(ManifestFlags).Flags["leader-elect"] != "false" || rebuilt.(ManifestFlags).Component != ProcessScheduler {
		t.Fatalf("the ledger's record does not rebuild the sabotage: %+v, %v", rebuilt, err)
	}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	inject := topo.commands[0]
	for _, want := range []string{"grep -q -- '--leader-elect='", "s|--leader-elect=[^\"]*|--leader-elect=false|", "mv /etc/kubernetes/kube-scheduler.sabotaged /etc/kubernetes/manifests/kube-scheduler.yaml"} {
		if !strings.Contains(inject, want) {
			t.Errorf("inject script lacks %q:\n%s", want, inject)
		}
	}
	if err := f.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(topo.commands[1], "kube-scheduler.yaml.orig") {
		t.Errorf("recover does not restore the original: %s", topo.commands[1])
	}
	if _, err := NewManifestFlags(topo, "cp3", "kubelet", map[string]string{"x": "y"}); err == nil {
		t.Error("a component that is not scheduler or controller-manager was accepted")
	}
}

func TestManifestFlagsIsInEffectOnlyWithEveryFlagRunning(t *testing.T) {
	f := ManifestFlags{Node: "cp3", Component: ProcessScheduler, Flags: map[string]string{"leader-elect": "false"}}
	f.topo = &fakeTopology{outputs: map[string]string{"cmdline": "kube-scheduler --leader-elect=true --bind-address=127.0.0.1"}}
	if err := f.processRunsFlags(context.Background()); err == nil {
		t.Fatal("a scheduler still electing counted as sabotaged")
	}
	f.topo = &fakeTopology{outputs: map[string]string{"cmdline": "kube-scheduler --leader-elect=false --bind-address=127.0.0.1"}}
	if err := f.processRunsFlags(context.Background()); err != nil {
		t.Fatalf("sabotaged scheduler not seen: %v", err)
	}
}

// The sabotage is in effect only once the API shows it too: no mirror Pod (the kubelet
// between deleting the old and creating the new), the old one, or a new one not yet
// ready are all "not yet".
func TestManifestFlagsWaitsForTheMirrorPodToShowTheFlags(t *testing.T) {
	f := ManifestFlags{Node: "cp3", Component: ProcessEtcd, Flags: map[string]string{"listen-client-urls": "https://a,http://0.0.0.0:2381"}}
	mirror := func(command string, ready bool) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "etcd-cp3", Namespace: "kube-system"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Command: strings.Fields(command)}}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "etcd", Ready: ready,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
		}
	}
	ctx := context.Background()
	if err := f.mirrorPodShowsFlags(ctx, fake.NewClientset()); err == nil {
		t.Error("no mirror Pod counted as sabotaged")
	}
	if err := f.mirrorPodShowsFlags(ctx, fake.NewClientset(mirror("etcd --listen-client-urls=https://a", true))); err == nil {
		t.Error("the old mirror Pod counted as sabotaged")
	}
	if err := f.mirrorPodShowsFlags(ctx, fake.NewClientset(mirror("etcd --listen-client-urls=https://a,http://0.0.0.0:2381", false))); err == nil {
		t.Error("a new mirror Pod not ready counted as sabotaged")
	}
	if err := f.mirrorPodShowsFlags(ctx, fake.NewClientset(mirror("etcd --listen-client-urls=https://a,http://0.0.0.0:2381", true))); err != nil {
		t.Errorf("the new mirror Pod, ready, not seen: %v", err)
	}
}

func TestManifestFlagsAddsAMissingFlagAndRefusesOneAlreadyThere(t *testing.T) {
	topo := &fakeTopology{}
	f, err := NewManifestFlags(topo, "cp3", ProcessAPIServer, nil)
	if err != nil {
		t.Fatal(err)
	}
	f = f.WithAdded(map[string]string{"etcd-servers-overrides": "/configmaps#" + SeparateEtcdURL})
	rebuilt, err := Rebuild(topo, f.Record())
	if err != nil || rebuilt.(ManifestFlags).Added["etcd-servers-overrides"] != "/configmaps#"+SeparateEtcdURL {
		t.Fatalf("the ledger's record does not rebuild the added flag: %+v, %v", rebuilt, err)
	}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"! grep -q -- '--etcd-servers-overrides='", "awk -v add='- --etcd-servers-overrides=/configmaps#http://127.0.0.1:23790'"} {
		if !strings.Contains(topo.commands[0], want) {
			t.Errorf("inject script lacks %q:\n%s", want, topo.commands[0])
		}
	}
	if err := (ManifestFlags{topo: topo, Node: "cp3", Component: ProcessAPIServer}).Inject(context.Background()); err == nil {
		t.Error("a sabotage with no flag at all was injected")
	}
}

func TestSeparateEtcdIsLedgeredAndRemovedWithItsData(t *testing.T) {
	topo := &fakeTopology{}
	f, err := NewSeparateEtcd(topo, "cp3")
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt, err := Rebuild(topo, f.Record()); err != nil || rebuilt.(SeparateEtcd).Node != "cp3" {
		t.Fatalf("the ledger's record does not rebuild it: %+v, %v", rebuilt, err)
	}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(topo.commands[0], "mv /etc/kubernetes/hachaos-separate-etcd.yaml /etc/kubernetes/manifests/hachaos-separate-etcd.yaml") {
		t.Errorf("the static Pod is not renamed into place:\n%s", topo.commands[0])
	}
	if err := f.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(topo.commands[1], "rm -rf /var/lib/hachaos-separate-etcd") {
		t.Errorf("recover leaves the data: %s", topo.commands[1])
	}
}

func TestManifestFlagsKeepsAListValueThroughTheLedger(t *testing.T) {
	topo := &fakeTopology{}
	f, err := NewManifestFlags(topo, "cp3", ProcessEtcd, map[string]string{"listen-client-urls": "https://127.0.0.1:2379,http://0.0.0.0:2378"})
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := Rebuild(topo, f.Record())
	if err != nil || rebuilt.(ManifestFlags).Flags["listen-client-urls"] != "https://127.0.0.1:2379,http://0.0.0.0:2378" {
		t.Fatalf("rebuilt %+v, %v", rebuilt, err)
	}
	if got := splitFlags("leader-elect=false,a=b"); got["leader-elect"] != "false" || got["a"] != "b" {
		t.Errorf("a ledger of the old format reads as %v", got)
	}
}

// The edit of StaticPodNoRestart on a kubeadm manifest, with and without a restartPolicy
// of its own: exactly one, Never, at the Pod's level.
func TestNeverRestartProgram(t *testing.T) {
	const manifest = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - etcd\n    restartPolicy: Always\n  hostNetwork: true\n%s"
	for _, own := range []string{"", "  restartPolicy: Always\n"} {
		cmd := exec.Command("awk", neverRestartProgram)
		cmd.Stdin = strings.NewReader(fmt.Sprintf(manifest, own))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		got := string(out)
		if strings.Count(got, "\n  restartPolicy:") != 1 || !strings.Contains(got, "spec:\n  restartPolicy: Never\n  containers:") || !strings.Contains(got, "    restartPolicy: Always") {
			t.Errorf("with %q the edit gave:\n%s", own, got)
		}
	}
}
