package fault

import (
	"bytes"
	"context"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"

	"github.com/hachaos/hachaos/topology"
)

func TestWorkerLossActsOnTheNode(t *testing.T) {
	for _, tc := range []struct {
		mode WorkerLossMode
		want []string
	}{
		{WorkerLossStop, []string{"stop w1", "start w1", "start w1"}},
		{WorkerLossPause, []string{"pause w1", "unpause w1", "unpause w1"}},
	} {
		nodes := &fakeTopology{}
		f, err := NewWorkerLoss(nodes, "w1", tc.mode)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, step := range []func(context.Context) error{f.Inject, f.Recover, f.Recover} {
			if err := step(ctx); err != nil {
				t.Fatalf("%s: %v", tc.mode, err)
			}
		}
		if !reflect.DeepEqual(nodes.actions, tc.want) {
			t.Errorf("%s: actions %q, want %q", tc.mode, nodes.actions, tc.want)
		}
	}
}

func TestWorkerLossErrorsNameTheNode(t *testing.T) {
	f, err := NewWorkerLoss(&fakeTopology{fail: true}, "w2", WorkerLossPause)
	if err != nil {
		t.Fatal(err)
	}
	for name, step := range map[string]func(context.Context) error{"Inject": f.Inject, "Recover": f.Recover} {
		if err := step(context.Background()); err == nil || !strings.Contains(err.Error(), "w2") {
			t.Errorf("%s error %v does not name w2", name, err)
		}
	}
}

func TestNewWorkerLossNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		node string
		mode WorkerLossMode
		want string
	}{
		{"", WorkerLossStop, "Node"},
		{"w1", "explode", `Mode "explode"`},
		{"w1", "", `Mode ""`},
	} {
		if _, err := NewWorkerLoss(&fakeTopology{}, tc.node, tc.mode); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWorkerLoss(%q, %q) error %v, want it to mention %q", tc.node, tc.mode, err, tc.want)
		}
	}
}

func TestWorkerFaultRecordsRebuildTheSameFault(t *testing.T) {
	nodes := &fakeTopology{}
	loss, err := NewWorkerLoss(nodes, "w1", WorkerLossPause)
	if err != nil {
		t.Fatal(err)
	}
	drain, err := NewWorkerDrain(nodes, "w2", 150*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Fault{loss, drain} {
		rebuilt, err := Rebuild(nodes, f.Record())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rebuilt, f) {
			t.Errorf("rebuilt %+v, want %+v", rebuilt, f)
		}
	}
}

func TestNewWorkerDrainNeedsABoundedTimeout(t *testing.T) {
	if _, err := NewWorkerDrain(&fakeTopology{}, "w1", 0, nil); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("zero timeout: error %v", err)
	}
	if _, err := NewWorkerDrain(&fakeTopology{}, "", time.Minute, nil); err == nil || !strings.Contains(err.Error(), "Node") {
		t.Errorf("no node: error %v", err)
	}
}

func TestWorkerDrainReportsAMissingAPIClient(t *testing.T) {
	f, err := NewWorkerDrain(&fakeTopology{}, "w1", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, step := range map[string]func(context.Context) error{"Inject": f.Inject, "Recover": f.Recover} {
		if err := step(context.Background()); err == nil || !strings.Contains(err.Error(), "w1") {
			t.Errorf("%s error %v does not name w1", name, err)
		}
	}
}

// drainCluster is a fake API server with worker w1 running a ReplicaSet Pod and a
// DaemonSet Pod, and the Eviction API: each eviction is first refused by a
// PodDisruptionBudget (429) refusals times (-1: always), then deletes the Pod.
func drainCluster(t *testing.T, refusals int) (*fake.Clientset, *atomic.Int32) {
	t.Helper()
	isController := true
	owned := func(name, kind, apiVersion, owner string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: owner, Controller: &isController}}},
			Spec: corev1.PodSpec{NodeName: "w1"},
		}
	}
	cs := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "agent"}},
		owned("web", "ReplicaSet", "apps/v1", "web-rs"),
		owned("agent-w1", "DaemonSet", "apps/v1", "agent"),
	)
	cs.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods/eviction", Kind: "Eviction", Group: "policy", Version: "v1"},
	}}}
	var attempts atomic.Int32
	cs.PrependReactor("create", "pods", func(action ktesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		n := int(attempts.Add(1))
		if refusals < 0 || n <= refusals {
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		}
		ev := action.(ktesting.CreateAction).GetObject().(*policyv1.Eviction)
		// Through the tracker: the clientset's own lock is held while reactors run.
		return true, nil, cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ev.Namespace, ev.Name)
	})
	return cs, &attempts
}

func testDrainer(cs *fake.Clientset, timeout time.Duration, out *bytes.Buffer) drainer {
	return drainer{client: cs, timeout: timeout, retryDelay: 10 * time.Millisecond, out: out}
}

func TestDrainCordonsAndEvictsAllButDaemonSetPods(t *testing.T) {
	ctx := context.Background()
	cs, attempts := drainCluster(t, 2)
	var out bytes.Buffer
	if err := testDrainer(cs, 10*time.Second, &out).drain(ctx, "w1"); err != nil {
		t.Fatalf("drain: %v\n%s", err, out.String())
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "w1", metav1.GetOptions{})
	if err != nil || !node.Spec.Unschedulable {
		t.Errorf("node w1 not cordoned: %v", err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Pod web still there after the drain: %v", err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "agent-w1", metav1.GetOptions{}); err != nil {
		t.Errorf("DaemonSet Pod agent-w1 was removed: %v", err)
	}
	// Two refusals by the PDB, then the eviction that went through.
	if got := attempts.Load(); got != 3 {
		t.Errorf("%d eviction attempts, want 3 (refused twice, retried)", got)
	}
	if !strings.Contains(out.String(), "pod default/web evicted") {
		t.Errorf("progress does not report the eviction:\n%s", out.String())
	}
}

func TestDrainFailsAtTheTimeoutWhenAPDBNeverAllowsTheEviction(t *testing.T) {
	cs, _ := drainCluster(t, -1)
	start := time.Now()
	err := testDrainer(cs, 200*time.Millisecond, &bytes.Buffer{}).drain(context.Background(), "w1")
	if err == nil || !strings.Contains(err.Error(), "w1") {
		t.Fatalf("drain blocked by a PDB: error %v, want one naming w1", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("drain took %s, want it to stop near its 200ms timeout", took)
	}
}

func TestUncordonIsIdempotentAndAMissingNodeIsRecovered(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"}, Spec: corev1.NodeSpec{Unschedulable: true}})
	d := testDrainer(cs, time.Second, &bytes.Buffer{})
	for i := 0; i < 2; i++ {
		if err := d.uncordon(ctx, "w1"); err != nil {
			t.Fatalf("uncordon #%d: %v", i+1, err)
		}
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "w1", metav1.GetOptions{})
	if err != nil || node.Spec.Unschedulable {
		t.Errorf("node w1 still cordoned: %v", err)
	}
	if err := d.uncordon(ctx, "gone"); err != nil {
		t.Errorf("uncordon of a deleted node: %v, want success", err)
	}
}

func TestWorkerCutOffRunsCommandsInTheNodeNotMachineActions(t *testing.T) {
	nodes := &fakeTopology{}
	f, err := NewWorkerLoss(nodes, "w1", WorkerLossCutOff)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Needs(); !reflect.DeepEqual(got, []topology.Capability{topology.CapabilityNodeCommands}) {
		t.Errorf("Needs() = %v, want node-commands only", got)
	}
	ctx := context.Background()
	for _, step := range []func(context.Context) error{f.Inject, f.Recover, f.Recover} {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(nodes.actions) != 0 {
		t.Errorf("machine actions %q: a cut-off must not need a machine", nodes.actions)
	}
	if len(nodes.commands) != 3 {
		t.Fatalf("commands %q, want inject, recover, recover", nodes.commands)
	}
	inject, recover := nodes.commands[0], nodes.commands[1]
	for _, want := range []string{"-N " + CutOffChain, "--dport 10290 -j RETURN", "-I FORWARD 1 -j " + CutOffChain, "systemctl stop kubelet $runtime"} {
		if !strings.Contains(inject, want) {
			t.Errorf("the cut-off script lacks %q:\n%s", want, inject)
		}
	}
	for _, want := range []string{"-X " + CutOffChain, "for u in containerd crio", "systemctl start $u", "systemctl start kubelet"} {
		if !strings.Contains(recover, want) {
			t.Errorf("the reconnect script lacks %q:\n%s", want, recover)
		}
	}
	rebuilt, err := Rebuild(nodes, f.Record())
	if err != nil || rebuilt.(WorkerLoss).Mode != WorkerLossCutOff {
		t.Errorf("Rebuild(%v) = %v, %v: the ledger must recover a cut-off as a cut-off", f.Record(), rebuilt, err)
	}
}

func TestWorkerCutOffScriptsParse(t *testing.T) {
	for name, script := range map[string]string{"cut off": cutOffScript(10290), "reconnect": reconnectScript()} {
		if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s script does not parse: %v\n%s\n%s", name, err, out, script)
		}
	}
}

func TestEveryFaultKindIsDescribed(t *testing.T) {
	modes := map[string][]string{
		KindEtcdMemberStop:  {"stacked", "external"},
		KindEtcdMemberCrash: {"stacked", "external"},
		KindWorkerLoss:      {string(WorkerLossPause), string(WorkerLossStop), string(WorkerLossCutOff)},
	}
	for _, kind := range Kinds() {
		for _, mode := range append([]string{""}, modes[kind]...) {
			if mode == "" && modes[kind] != nil {
				continue
			}
			d, err := Describe(kind, map[string]string{"mode": mode})
			if err != nil || d.Injects == "" || d.Recovery == "" {
				t.Errorf("Describe(%s, mode %q) = %+v, %v: hachaos run --dry-run must say what it does and how it is recovered", kind, mode, d, err)
			}
		}
	}
	if _, err := Describe("no-such-kind", nil); err == nil {
		t.Error("Describe accepted an unknown kind")
	}
}
