package suites

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/hachaos/hachaos/monitor"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/verdict"
)

// The data plane: what the cluster's applications get while its control plane fails. A
// server (agnhost netexec, the Kubernetes e2e test image, built offline into the node
// image) runs on every worker as a DaemonSet, with a PodDisruptionBudget, behind a
// NodePort Service; every fault spec probes each worker's NodePort from outside the
// cluster, a new connection every 100 ms (monitor.PrefixDataPlane). A DaemonSet, not a
// Deployment: its Pods stay on their workers through every spec (a drain leaves them,
// a lost worker's comes back with it), so every spec starts with the same spread, and a
// lost worker's Pod is taken out of the Service only by the endpoint machinery the
// routing bound is about. The workload is created (or brought back to this shape) before
// the first spec and stays with the topology, like the topology itself between runs.
const (
	dataPlaneNamespace = "hachaos-dataplane"
	dataPlaneName      = "hachaos-serve"
	dataPlanePort      = 8080
)

// agnhostImageMarker names the agnhost image in a node's image list (any version: the
// one built for this Kubernetes version, see scripts/build-images.sh).
const agnhostImageMarker = "/e2e-test-images/agnhost:"

// DataPlane is the data-plane workload as deployed for this suite run.
type DataPlane struct {
	Image   string
	Workers []string // the workers it runs on
	Targets []monitor.DataPlaneTarget
	// Pinned (negative control dataPlanePinned) runs the server on this worker only.
	Pinned string
	// LivenessOnAPI (negative control dataPlaneLivenessOnAPI) is the `kubernetes`
	// Service's ClusterIP: the server's liveness then depends on the API servers' /readyz.
	LivenessOnAPI string
}

// deployDataPlane creates or updates the data-plane workload for spec's sabotages and
// waits until it serves on every worker's NodePort. No workers: no data plane (nil).
func deployDataPlane(ctx context.Context, c kubernetes.Interface, spec topology.Spec, workers []string) *DataPlane {
	if len(workers) == 0 {
		return nil
	}
	d := &DataPlane{Workers: workers, Image: agnhostImage(ctx, c, workers)}
	if spec.Sabotage.DataPlanePinned {
		d.Pinned = workers[0] // the worker the worker-loss spec takes away
	}
	if spec.Sabotage.DataPlaneLivenessOnAPI {
		svc, err := c.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred(), "get the kubernetes Service")
		d.LivenessOnAPI = svc.Spec.ClusterIP
	}
	By(fmt.Sprintf("deploying the data-plane workload %s/%s (%s) on %s", dataPlaneNamespace, dataPlaneName, d.Image, strings.Join(d.runsOn(), ", ")))
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dataPlaneNamespace}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred(), "create namespace %s", dataPlaneNamespace)
	}
	d.applyDaemonSet(ctx, c)
	d.applyPDB(ctx, c)
	nodePort := d.applyService(ctx, c)
	d.Targets = workerTargets(ctx, c, workers, nodePort)
	Expect(d.awaitServing(ctx, c, spec.Waits.ComponentRestart.Duration)).To(Succeed(), "the data-plane workload serves on every worker's NodePort")
	progress("data plane: %s serving on %s", dataPlaneName, describeTargets(d.Targets))
	return d
}

// runsOn is where the server runs: every worker, or the pinned one.
func (d *DataPlane) runsOn() []string {
	if d.Pinned != "" {
		return []string{d.Pinned}
	}
	return d.Workers
}

func (d *DataPlane) labels() map[string]string { return map[string]string{"app": dataPlaneName} }

// agnhostImage is the agnhost image every worker has (no registry is reachable: it must
// be in the node image).
func agnhostImage(ctx context.Context, c kubernetes.Interface, workers []string) string {
	var image string
	for _, w := range workers {
		n, err := c.CoreV1().Nodes().Get(ctx, w, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred(), "get node %s", w)
		found := ""
		for _, img := range n.Status.Images {
			if i := slices.IndexFunc(img.Names, func(name string) bool { return strings.Contains(name, agnhostImageMarker) }); i >= 0 {
				found = img.Names[i]
			}
		}
		Expect(found).NotTo(BeEmpty(), "worker %s has no agnhost image (%s*): the data-plane workload needs it in the node image; rebuild it with make images", w, agnhostImageMarker)
		if image == "" {
			image = found
		}
		Expect(found).To(Equal(image), "the workers have different agnhost images")
	}
	return image
}

func (d *DataPlane) daemonSet() *appsv1.DaemonSet {
	container := corev1.Container{
		Name: "serve", Image: d.Image, ImagePullPolicy: corev1.PullNever,
		Args:  []string{"netexec", "--http-port=" + strconv.Itoa(dataPlanePort)},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: dataPlanePort}},
		// netexec's /readyz: 200 until it is told to stop. Lenient (3 misses of 2 s
		// each): on 2 cores a probe can be late, and a Pod flapping out of the Service
		// would move traffic for no reason.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(dataPlanePort)}},
			PeriodSeconds: 1, TimeoutSeconds: 2, FailureThreshold: 3,
		},
	}
	if d.LivenessOnAPI != "" {
		// The sabotage: liveness on the API servers' /readyz (anonymous, as kubeadm
		// allows it) through the `kubernetes` Service's address. When etcd loses quorum
		// the API servers fail /readyz and the kubelet restarts the server again and
		// again — with no API server needed to do so.
		container.LivenessProbe = &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Host: d.LivenessOnAPI, Path: "/readyz", Port: intstr.FromInt32(443), Scheme: corev1.URISchemeHTTPS,
			}},
			PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 1,
		}
	}
	podSpec := corev1.PodSpec{
		Containers: []corev1.Container{container},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: d.runsOn(),
			}}}},
		}}},
		TerminationGracePeriodSeconds: ptr.To[int64](2),
	}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: dataPlaneName, Namespace: dataPlaneNamespace},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: d.labels()},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: d.labels()}, Spec: podSpec},
			// a sabotage's template (or its undoing) replaces every Pod at once: the
			// suite waits for all of them before the first spec anyway
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: ptr.To(intstr.FromString("100%")),
			}},
		},
	}
}

func (d *DataPlane) applyDaemonSet(ctx context.Context, c kubernetes.Interface) {
	want := d.daemonSet()
	dsc := c.AppsV1().DaemonSets(dataPlaneNamespace)
	_, err := dsc.Get(ctx, dataPlaneName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = dsc.Create(ctx, want, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred(), "create DaemonSet %s", dataPlaneName)
		return
	}
	Expect(err).NotTo(HaveOccurred())
	// its controller writes its status meanwhile: read again on a conflict
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := dsc.Get(ctx, dataPlaneName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Spec.Template, got.Spec.UpdateStrategy = want.Spec.Template, want.Spec.UpdateStrategy
		_, err = dsc.Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
	Expect(err).NotTo(HaveOccurred(), "update DaemonSet %s", dataPlaneName)
}

func (d *DataPlane) applyPDB(ctx context.Context, c kubernetes.Interface) {
	minAvailable := intstr.FromInt32(int32(max(1, len(d.runsOn())-1)))
	want := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: dataPlaneName, Namespace: dataPlaneNamespace},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: d.labels()}},
	}
	pc := c.PolicyV1().PodDisruptionBudgets(dataPlaneNamespace)
	_, err := pc.Get(ctx, dataPlaneName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = pc.Create(ctx, want, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred(), "create PDB %s", dataPlaneName)
		return
	}
	Expect(err).NotTo(HaveOccurred())
	// the disruption controller writes its status meanwhile: read again on a conflict
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := pc.Get(ctx, dataPlaneName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Spec = want.Spec
		_, err = pc.Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
	Expect(err).NotTo(HaveOccurred(), "update PDB %s", dataPlaneName)
}

// applyService creates the NodePort Service once (an existing one keeps its port) and
// returns its nodePort.
func (d *DataPlane) applyService(ctx context.Context, c kubernetes.Interface) int32 {
	sc := c.CoreV1().Services(dataPlaneNamespace)
	svc, err := sc.Get(ctx, dataPlaneName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc, err = sc.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: dataPlaneName, Namespace: dataPlaneNamespace},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, Selector: d.labels(),
				// Cluster (the default): each worker's NodePort balances over every
				// worker's Pods, so a lost worker's Pod is reached from the others until
				// the endpoint machinery takes it out.
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(dataPlanePort)}},
			},
		}, metav1.CreateOptions{})
	}
	Expect(err).NotTo(HaveOccurred(), "create Service %s", dataPlaneName)
	Expect(svc.Spec.Ports).NotTo(BeEmpty())
	return svc.Spec.Ports[0].NodePort
}

// workerTargets is each worker's InternalIP with the Service's nodePort.
func workerTargets(ctx context.Context, c kubernetes.Interface, workers []string, nodePort int32) []monitor.DataPlaneTarget {
	var out []monitor.DataPlaneTarget
	for _, w := range workers {
		n, err := c.CoreV1().Nodes().Get(ctx, w, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred(), "get node %s", w)
		i := slices.IndexFunc(n.Status.Addresses, func(a corev1.NodeAddress) bool { return a.Type == corev1.NodeInternalIP })
		Expect(i).To(BeNumerically(">=", 0), "worker %s has no InternalIP", w)
		out = append(out, monitor.DataPlaneTarget{Worker: w, Address: net.JoinHostPort(n.Status.Addresses[i].Address, strconv.Itoa(int(nodePort)))})
	}
	return out
}

func describeTargets(ts []monitor.DataPlaneTarget) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Worker + " " + t.Address
	}
	return strings.Join(parts, ", ")
}

// servingProblem is nil when every Pod of the workload runs the current template and
// is Ready, and each worker's NodePort answers a request.
func (d *DataPlane) servingProblem(ctx context.Context, c kubernetes.Interface) error {
	ds, err := c.AppsV1().DaemonSets(dataPlaneNamespace).Get(ctx, dataPlaneName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	want := int32(len(d.runsOn()))
	st := ds.Status
	if st.ObservedGeneration < ds.Generation || st.DesiredNumberScheduled != want || st.UpdatedNumberScheduled != want || st.NumberReady != want {
		return fmt.Errorf("DaemonSet %s: %d desired, %d updated, %d Ready of the %d wanted (generation %d observed %d)",
			dataPlaneName, st.DesiredNumberScheduled, st.UpdatedNumberScheduled, st.NumberReady, want, ds.Generation, st.ObservedGeneration)
	}
	pods, err := c.CoreV1().Pods(dataPlaneNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + dataPlaneName})
	if err != nil {
		return err
	}
	if n := len(pods.Items); n != int(want) {
		return fmt.Errorf("%d Pods of %s, %d wanted (old ones still terminating)", n, dataPlaneName, want)
	}
	for _, t := range d.Targets {
		if _, err := monitor.DataPlaneGet(t.Address)(ctx); err != nil {
			return fmt.Errorf("worker %s's NodePort: %w", t.Worker, err)
		}
	}
	return nil
}

func (d *DataPlane) awaitServing(ctx context.Context, c kubernetes.Interface, timeout time.Duration) error {
	return pollUntil(ctx, timeout, time.Second, func(ctx context.Context) error { return d.servingProblem(ctx, c) })
}

// expectDataPlaneServing is the data plane's part of a fault spec's readiness gate
// (waits.clusterReady): a spec after a worker's loss may start before that worker's
// Pod is Ready again.
func expectDataPlaneServing(ctx context.Context, d *DataPlane, spec topology.Spec, c kubernetes.Interface) {
	if d == nil {
		return
	}
	if err := d.awaitServing(ctx, c, spec.Waits.ClusterReady.Duration); err != nil {
		failWith(verdict.EnvironmentNotReady, "the data-plane workload does not serve on every worker within waits.clusterReady (%s): %v", spec.Waits.ClusterReady.Duration, err)
	}
}
