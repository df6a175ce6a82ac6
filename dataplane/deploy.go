package dataplane

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/hachaos/hachaos/probe"
)

// The workload is a DaemonSet, not a Deployment: its Pods stay on their workers through
// every fault (a drain leaves them, a lost worker's comes back with it), so every spec
// starts with the same spread, and a lost worker's Pod leaves the Service only by the
// endpoint machinery the routing bound is about. It stays with the topology between runs,
// like the topology itself; Deploy brings it back to the asked-for shape.

// agnhostImageMarker names the agnhost image in a node's image list (any version: the
// one built for this Kubernetes version, see scripts/build-images.sh).
const agnhostImageMarker = "/e2e-test-images/agnhost:"

// Options say how the workload is deployed; the zero value is the workload as it should be.
type Options struct {
	Workers []string
	// Pinned (the negative control dataPlanePinned) runs the server on the first worker
	// only: a Service whose every Pod sits on the worker that is lost.
	Pinned bool
	// LivenessOnAPI (the negative control dataPlaneLivenessOnAPI) makes the server's
	// liveness depend on the API servers' /readyz: its kubelet restarts it while etcd
	// has no quorum.
	LivenessOnAPI bool
}

// Workload is the workload as deployed.
type Workload struct {
	Image   string
	Workers []string // every worker; Targets has each one's NodePort
	Targets []Target
	Pinned  string // the one worker it runs on, for the pinned control
	// LivenessProbeHost is the `kubernetes` Service's ClusterIP when the liveness control is on.
	LivenessProbeHost string
}

// Deploy creates or updates the workload for opts and waits up to timeout until it
// serves on every worker's NodePort (AwaitServing).
func Deploy(ctx context.Context, c kubernetes.Interface, opts Options, timeout time.Duration) (*Workload, error) {
	if len(opts.Workers) == 0 {
		return nil, fmt.Errorf("the data-plane workload needs at least one worker")
	}
	image, err := AgnhostImage(ctx, c, opts.Workers)
	if err != nil {
		return nil, err
	}
	w := &Workload{Image: image, Workers: opts.Workers}
	if opts.Pinned {
		w.Pinned = opts.Workers[0]
	}
	if opts.LivenessOnAPI {
		svc, err := c.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("the kubernetes Service: %w", err)
		}
		w.LivenessProbeHost = svc.Spec.ClusterIP
	}
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	if err := w.applyDaemonSet(ctx, c); err != nil {
		return nil, err
	}
	if err := w.applyPDB(ctx, c); err != nil {
		return nil, err
	}
	nodePort, err := applyService(ctx, c)
	if err != nil {
		return nil, err
	}
	if w.Targets, err = NodePortTargets(ctx, c, opts.Workers, nodePort); err != nil {
		return nil, err
	}
	if err := w.AwaitServing(ctx, c, timeout); err != nil {
		return nil, fmt.Errorf("the data-plane workload does not serve on every worker's NodePort within %s: %w", timeout, err)
	}
	return w, nil
}

// RunsOn is where the server runs: every worker, or the pinned one.
func (w *Workload) RunsOn() []string {
	if w.Pinned != "" {
		return []string{w.Pinned}
	}
	return w.Workers
}

func selector() map[string]string { return map[string]string{"app": Service} }

// AgnhostImage is the agnhost image every worker has (no registry is reachable: it must
// be in the node image).
func AgnhostImage(ctx context.Context, c kubernetes.Interface, workers []string) (string, error) {
	var image string
	for _, name := range workers {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("node %s: %w", name, err)
		}
		found := ""
		for _, img := range n.Status.Images {
			if i := slices.IndexFunc(img.Names, func(s string) bool { return strings.Contains(s, agnhostImageMarker) }); i >= 0 {
				found = img.Names[i]
			}
		}
		switch {
		case found == "":
			return "", fmt.Errorf("worker %s has no agnhost image (%s*): the data-plane workload needs it in the node image; rebuild it with make images", name, agnhostImageMarker)
		case image != "" && found != image:
			return "", fmt.Errorf("the workers have different agnhost images: %s and %s", image, found)
		}
		image = found
	}
	return image, nil
}

func (w *Workload) daemonSet() *appsv1.DaemonSet {
	container := corev1.Container{
		Name: "serve", Image: w.Image, ImagePullPolicy: corev1.PullNever,
		Args:  []string{"netexec", "--http-port=" + strconv.Itoa(Port)},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: Port}},
		// netexec's /readyz: 200 until it is told to stop. Lenient (3 misses of 2 s
		// each): on 2 cores a probe can be late, and a Pod flapping out of the Service
		// would move traffic for no reason.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(Port)}},
			PeriodSeconds: 1, TimeoutSeconds: 2, FailureThreshold: 3,
		},
	}
	if w.LivenessProbeHost != "" {
		// The sabotage: liveness on the API servers' /readyz (anonymous, as kubeadm
		// allows it) through the `kubernetes` Service's address. When etcd loses quorum
		// the API servers fail /readyz and the kubelet restarts the server again and
		// again — with no API server needed to do so.
		container.LivenessProbe = &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Host: w.LivenessProbeHost, Path: "/readyz", Port: intstr.FromInt32(443), Scheme: corev1.URISchemeHTTPS,
			}},
			PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 1,
		}
	}
	pod := corev1.PodSpec{
		Containers: []corev1.Container{container},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: w.RunsOn(),
			}}}},
		}}},
		TerminationGracePeriodSeconds: ptr.To[int64](2),
	}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: Service, Namespace: Namespace},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector()},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: selector()}, Spec: pod},
			// a control's template (or its undoing) replaces every Pod at once: Deploy
			// waits for all of them anyway
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: ptr.To(intstr.FromString("100%")),
			}},
		},
	}
}

// applyDaemonSet creates the DaemonSet or sets its template; its controller writes its
// status meanwhile, so a conflict is read again.
func (w *Workload) applyDaemonSet(ctx context.Context, c kubernetes.Interface) error {
	want := w.daemonSet()
	dsc := c.AppsV1().DaemonSets(Namespace)
	_, err := dsc.Create(ctx, want, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return wrap(err, "create DaemonSet %s", Service)
	}
	return wrap(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := dsc.Get(ctx, Service, metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Spec.Template, got.Spec.UpdateStrategy = want.Spec.Template, want.Spec.UpdateStrategy
		_, err = dsc.Update(ctx, got, metav1.UpdateOptions{})
		return err
	}), "update DaemonSet %s", Service)
}

// applyPDB: minAvailable one fewer than the Pods (at least one).
func (w *Workload) applyPDB(ctx context.Context, c kubernetes.Interface) error {
	minAvailable := intstr.FromInt32(int32(max(1, len(w.RunsOn())-1)))
	want := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: Service, Namespace: Namespace},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: selector()}},
	}
	pc := c.PolicyV1().PodDisruptionBudgets(Namespace)
	_, err := pc.Create(ctx, want, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return wrap(err, "create PDB %s", Service)
	}
	return wrap(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := pc.Get(ctx, Service, metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Spec = want.Spec
		_, err = pc.Update(ctx, got, metav1.UpdateOptions{})
		return err
	}), "update PDB %s", Service)
}

// applyService creates the NodePort Service once (an existing one keeps its port) and
// returns its nodePort.
func applyService(ctx context.Context, c kubernetes.Interface) (int32, error) {
	sc := c.CoreV1().Services(Namespace)
	svc, err := sc.Get(ctx, Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc, err = sc.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: Service, Namespace: Namespace},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, Selector: selector(),
				// Cluster (the default): each worker's NodePort balances over every
				// worker's Pods, so a lost worker's Pod is reached from the others until
				// the endpoint machinery takes it out.
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(Port)}},
			},
		}, metav1.CreateOptions{})
	}
	if err != nil {
		return 0, fmt.Errorf("create Service %s: %w", Service, err)
	}
	if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].NodePort == 0 {
		return 0, fmt.Errorf("Service %s has no NodePort", Service)
	}
	return svc.Spec.Ports[0].NodePort, nil
}

// ServingProblem is nil when every Pod of the workload runs the current template and is
// Ready, and each worker's NodePort answers a request.
func (w *Workload) ServingProblem(ctx context.Context, c kubernetes.Interface) error {
	ds, err := c.AppsV1().DaemonSets(Namespace).Get(ctx, Service, metav1.GetOptions{})
	if err != nil {
		return err
	}
	want := int32(len(w.RunsOn()))
	st := ds.Status
	if st.ObservedGeneration < ds.Generation || st.DesiredNumberScheduled != want || st.UpdatedNumberScheduled != want || st.NumberReady != want {
		return fmt.Errorf("DaemonSet %s: %d desired, %d updated, %d Ready of the %d wanted (generation %d observed %d)",
			Service, st.DesiredNumberScheduled, st.UpdatedNumberScheduled, st.NumberReady, want, ds.Generation, st.ObservedGeneration)
	}
	pods, err := c.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + Service})
	if err != nil {
		return err
	}
	if n := len(pods.Items); n != int(want) {
		return fmt.Errorf("%d Pods of %s, %d wanted (old ones still terminating)", n, Service, want)
	}
	for _, t := range w.Targets {
		if _, err := Get(t.Address)(ctx); err != nil {
			return fmt.Errorf("worker %s's NodePort: %w", t.Worker, err)
		}
	}
	return nil
}

// AwaitServing polls ServingProblem once a second until it is nil, up to timeout; the
// last problem is returned when time runs out.
func (w *Workload) AwaitServing(ctx context.Context, c kubernetes.Interface, timeout time.Duration) error {
	return probe.PollUntil(ctx, timeout, time.Second, 10*time.Second, func(ctx context.Context) error { return w.ServingProblem(ctx, c) })
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}
