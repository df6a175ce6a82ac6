package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindWorkerLoss, func(n Topology, r Record) Fault {
		return WorkerLoss{nodes: n, Node: r.Target, Mode: WorkerLossMode(r.Params["mode"])}
	})
	register(KindWorkerDrain, func(n Topology, r Record) Fault {
		// Recover does not need the timeout; an unreadable one only stops a re-Inject.
		timeout, _ := time.ParseDuration(r.Params["timeout"])
		return WorkerDrain{nodes: n, Node: r.Target, Timeout: timeout}
	})
}

// Fault kinds for worker nodes.
const (
	KindWorkerLoss  = "worker-loss"
	KindWorkerDrain = "worker-drain"
)

// WorkerLossMode is how a worker is lost.
type WorkerLossMode string

// The ways to lose a worker.
const (
	// WorkerLossStop shuts the worker's machine down; Recover starts it again.
	WorkerLossStop WorkerLossMode = "stop"
	// WorkerLossPause freezes every process of the worker; Recover thaws them.
	WorkerLossPause WorkerLossMode = "pause"
	// WorkerLossCutOff loses a worker without a hypervisor, through commands in the node:
	// its traffic is dropped (all but the harness agent's port), then its kubelet and
	// container runtime are stopped; Recover undoes it in the opposite order. What
	// differs from a powered-off machine: the worker's containers keep running, cut off,
	// so after recovery the kubelet finds them alive (and kills those whose Pods were
	// deleted meanwhile) instead of starting from nothing; the node keeps its boot ID,
	// memory and conntrack state.
	WorkerLossCutOff WorkerLossMode = "cut-off"
)

// actions are the node actions that inject and recover the mode; ok is false for an
// unknown mode.
func (m WorkerLossMode) actions() (inject, undo topology.NodeAction, ok bool) {
	switch m {
	case WorkerLossStop:
		return topology.NodeStop, topology.NodeStart, true
	case WorkerLossPause:
		return topology.NodePause, topology.NodeUnpause, true
	}
	return "", "", false
}

// WorkerLossModeFor is how the suites lose a worker on a provider with capabilities c:
// its machine paused when the provider has machines (every process frozen at once, as
// a hung host), else cut off through commands in the node (WorkerLossCutOff says what
// differs). A provider with neither skips the spec with the reason.
func WorkerLossModeFor(c topology.Capabilities) WorkerLossMode {
	if _, lacks := c.Lacking[topology.CapabilityNodeMachines]; lacks {
		return WorkerLossCutOff
	}
	return WorkerLossPause
}

// WorkerLoss takes a worker node away without telling Kubernetes: the node controller
// has to notice it on its own (NotReady, then Pod eviction by taints).
type WorkerLoss struct {
	nodes Topology
	Node  string
	Mode  WorkerLossMode
}

// NewWorkerLoss loses the worker named node in the given mode.
func NewWorkerLoss(t Topology, node string, mode WorkerLossMode) (WorkerLoss, error) {
	f := WorkerLoss{nodes: t, Node: node, Mode: mode}
	if _, _, err := f.actions(); err != nil {
		return WorkerLoss{}, err
	}
	return f, nil
}

func (f WorkerLoss) actions() (inject, undo topology.NodeAction, err error) {
	if f.Node == "" {
		return "", "", errors.New("worker loss: Node is empty")
	}
	if f.Mode == WorkerLossCutOff {
		return "", "", nil // no machine action: commands in the node (cutoff.go)
	}
	inject, undo, ok := f.Mode.actions()
	if !ok {
		return "", "", fmt.Errorf("worker loss of %s: Mode %q is not %q, %q or %q", f.Node, f.Mode, WorkerLossStop, WorkerLossPause, WorkerLossCutOff)
	}
	return inject, undo, nil
}

// Record implements Fault.
func (f WorkerLoss) Record() Record {
	return Record{Kind: KindWorkerLoss, Target: f.Node, Params: map[string]string{"mode": string(f.Mode)}}
}

// Needs implements Fault: the worker's whole machine stopped or paused, or (cut off)
// root commands in it.
func (f WorkerLoss) Needs() []topology.Capability {
	if f.Mode == WorkerLossCutOff {
		return []topology.Capability{topology.CapabilityNodeCommands}
	}
	return []topology.Capability{topology.CapabilityNodeMachines}
}

// Inject implements Fault.
func (f WorkerLoss) Inject(ctx context.Context) error {
	action, _, err := f.actions()
	if err != nil {
		return err
	}
	if f.Mode == WorkerLossCutOff {
		return f.cutOff(ctx)
	}
	if err := f.nodes.NodeAction(ctx, f.Node, action); err != nil {
		return fmt.Errorf("%s worker %s: %w", action, f.Node, err)
	}
	return nil
}

// Recover implements Fault. Providers treat an action on a node already in the target
// state as success, so recovering a running worker is harmless.
func (f WorkerLoss) Recover(ctx context.Context) error {
	_, action, err := f.actions()
	if err != nil {
		return err
	}
	if f.Mode == WorkerLossCutOff {
		return f.reconnect(ctx)
	}
	if err := f.nodes.NodeAction(ctx, f.Node, action); err != nil {
		return fmt.Errorf("%s worker %s: %w", action, f.Node, err)
	}
	return nil
}

// EvictRetryDelay is how long the drain waits before retrying an eviction a
// PodDisruptionBudget refused: kubectl drain's default. The drain helper's own default
// is zero, which would retry in a busy loop.
const EvictRetryDelay = 5 * time.Second

// WorkerDrain drains a worker as an operator would before maintenance (kubectl drain):
// cordon it, then evict its Pods except DaemonSet Pods. Recover uncordons it.
type WorkerDrain struct {
	nodes   Topology
	Node    string
	Timeout time.Duration // the whole drain, PDB-blocked retries included, must end within it
	Out     io.Writer     // progress of the drain; nil discards it
}

// NewWorkerDrain drains the worker named node within timeout, writing progress to out
// (nil discards it).
func NewWorkerDrain(t Topology, node string, timeout time.Duration, out io.Writer) (WorkerDrain, error) {
	f := WorkerDrain{nodes: t, Node: node, Timeout: timeout, Out: out}
	if err := f.validate(); err != nil {
		return WorkerDrain{}, err
	}
	return f, nil
}

// validate refuses a zero timeout, which the drain helper takes as "wait forever".
func (f WorkerDrain) validate() error {
	if f.Node == "" {
		return errors.New("worker drain: Node is empty")
	}
	if f.Timeout <= 0 {
		return fmt.Errorf("worker drain of %s: Timeout %s must be positive", f.Node, f.Timeout)
	}
	return nil
}

// Record implements Fault.
func (f WorkerDrain) Record() Record {
	return Record{Kind: KindWorkerDrain, Target: f.Node, Params: map[string]string{"timeout": f.Timeout.String()}}
}

// Needs implements Fault: nothing beyond the Kubernetes API (cordon, evictions).
func (f WorkerDrain) Needs() []topology.Capability { return nil }

// Inject implements Fault.
func (f WorkerDrain) Inject(ctx context.Context) error {
	if err := f.validate(); err != nil {
		return err
	}
	client, err := f.client(ctx)
	if err != nil {
		return err
	}
	out := f.Out
	if out == nil {
		out = io.Discard
	}
	return drainer{client: client, timeout: f.Timeout, retryDelay: EvictRetryDelay, out: out}.drain(ctx, f.Node)
}

// Recover implements Fault; a node that is already schedulable or no longer exists is
// success.
func (f WorkerDrain) Recover(ctx context.Context) error {
	client, err := f.client(ctx)
	if err != nil {
		return err
	}
	return drainer{client: client, out: io.Discard}.uncordon(ctx, f.Node)
}

func (f WorkerDrain) client(ctx context.Context) (kubernetes.Interface, error) {
	cfg, err := f.nodes.RESTConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("API client to drain %s: %w", f.Node, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API client to drain %s: %w", f.Node, err)
	}
	return client, nil
}

// drainer runs kubectl's drain library against one API client; it is apart from
// WorkerDrain so that tests can give it a fake clientset.
type drainer struct {
	client     kubernetes.Interface
	timeout    time.Duration
	retryDelay time.Duration
	out        io.Writer
}

// helper configures kubectl's drain as `kubectl drain --ignore-daemonsets
// --delete-emptydir-data` does. Pods are evicted through the Eviction API, so
// PodDisruptionBudgets are honoured: an eviction a PDB refuses (429) is retried every
// retryDelay until timeout. Force stays off, so a Pod without a controller fails the
// drain instead of being deleted for good.
func (d drainer) helper(ctx context.Context) *drain.Helper {
	out := &lockedWriter{w: d.out} // the helper writes from one goroutine per Pod
	return &drain.Helper{
		Ctx:                  ctx,
		Client:               d.client,
		GracePeriodSeconds:   -1, // each Pod's own terminationGracePeriodSeconds
		IgnoreAllDaemonSets:  true,
		DeleteEmptyDirData:   true,
		Timeout:              d.timeout,
		EvictErrorRetryDelay: d.retryDelay,
		Out:                  out,
		ErrOut:               out,
		OnPodDeletionOrEvictionFinished: func(pod *corev1.Pod, _ bool, err error) {
			// Progress is for people watching; a failed write must not fail the drain.
			if err != nil {
				_, _ = fmt.Fprintf(out, "pod %s/%s: %v\n", pod.Namespace, pod.Name, err)
				return
			}
			_, _ = fmt.Fprintf(out, "pod %s/%s evicted\n", pod.Namespace, pod.Name)
		},
	}
}

// drain cordons node, then evicts its Pods and waits until they are gone.
func (d drainer) drain(ctx context.Context, node string) error {
	n, err := d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s to drain it: %w", node, err)
	}
	h := d.helper(ctx)
	if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
		return fmt.Errorf("cordon %s: %w", node, err)
	}
	if err := drain.RunNodeDrain(h, node); err != nil {
		return fmt.Errorf("drain %s (it stays cordoned): %w", node, err)
	}
	return nil
}

// uncordon makes node schedulable again; a node that is gone needs nothing.
func (d drainer) uncordon(ctx context.Context, node string) error {
	n, err := d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get node %s to uncordon it: %w", node, err)
	}
	err = drain.RunCordonOrUncordon(d.helper(ctx), n, false)
	if err != nil && !apierrors.IsNotFound(err) { // deleted between Get and the patch
		return fmt.Errorf("uncordon %s: %w", node, err)
	}
	return nil
}

// lockedWriter serialises writes from concurrent goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
