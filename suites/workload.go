package suites

import (
	"context"
	"fmt"
	"strconv"
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
	"k8s.io/utils/ptr"

	"github.com/hachaos/hachaos/dataplane"
)

// workloadNamespace holds the test workload; the suites create and delete it.
const workloadNamespace = "hachaos-workload"

// workload is the test workload of the worker specs: a Deployment spread over the
// workers with a PodDisruptionBudget, the shape an HA application takes.
type workload struct {
	Name string
	// Replicas is 2 per worker, so losing one worker leaves half of them running.
	Replicas int32
	// MinAvailable is the PDB's: one fewer than Replicas, so a drain evicts one Pod at a
	// time and waits for its replacement to be Ready.
	MinAvailable int32
	// Image is agnhost's (it serves with netexec); it must be in the node image already
	// (no registry is reachable).
	Image string
	// Pinned (a negative control) pins every Pod to one worker, so a lost worker takes
	// the whole workload with it and nothing can be rescheduled.
	Pinned string
	// NoPDB (a negative control) leaves the PDB out, so a drain evicts every Pod at once.
	NoPDB bool
	// ReadyAfter (a negative control) delays each Pod's readiness: its readiness probe
	// first runs after it.
	ReadyAfter time.Duration
}

func (w *workload) labels() map[string]string { return map[string]string{"app": w.Name} }

// deploy creates the namespace, Deployment and PDB and waits for every replica to be
// Ready; the namespace is deleted when the spec ends.
func (w *workload) deploy(ctx context.Context, c kubernetes.Interface, ready time.Duration) {
	By(fmt.Sprintf("deploying %d replicas of %s spread over the workers (PDB minAvailable %d)", w.Replicas, w.Name, w.MinAvailable))
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: workloadNamespace}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	DeferCleanup(func(ctx context.Context) {
		Expect(deleteWorkload(ctx, c, w.Name)).To(Succeed())
		// the next spec creates a workload of the same name: wait until this one is gone
		Eventually(func(ctx context.Context) error {
			_, err := c.AppsV1().Deployments(workloadNamespace).Get(ctx, w.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("deployment %s still there (%v)", w.Name, err)
		}).WithContext(ctx).WithTimeout(ready).WithPolling(time.Second).Should(Succeed())
	})
	_, err = c.AppsV1().Deployments(workloadNamespace).Create(ctx, w.deployment(), metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	if !w.NoPDB {
		_, err = c.PolicyV1().PodDisruptionBudgets(workloadNamespace).Create(ctx, w.pdb(), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
	}
	Eventually(func(ctx context.Context) (int, error) {
		total, _, err := w.count(ctx, c)
		return total, err
	}).WithContext(ctx).WithTimeout(ready).WithPolling(time.Second).Should(BeNumerically("==", w.Replicas),
		"all %d replicas of %s Ready", w.Replicas, w.Name)
}

func (w *workload) deployment() *appsv1.Deployment {
	// agnhost netexec, Ready when it serves: Ready replicas are serving replicas
	app := corev1.Container{Name: "app", Image: w.Image, ImagePullPolicy: corev1.PullNever,
		Args: []string{"netexec", "--http-port=" + strconv.Itoa(dataplane.Port)},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(dataplane.Port)}},
			InitialDelaySeconds: int32(w.ReadyAfter.Round(time.Second) / time.Second),
			PeriodSeconds:       1, TimeoutSeconds: 2, FailureThreshold: 3,
		}}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{app},
		// Spread over the workers; ScheduleAnyway so the replicas of a lost worker can
		// still land on the others.
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: w.labels()},
		}},
		TerminationGracePeriodSeconds: ptr.To[int64](1),
	}
	if w.Pinned != "" {
		spec.NodeSelector = map[string]string{"kubernetes.io/hostname": w.Pinned}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(w.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: w.labels()},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: w.labels()}, Spec: spec},
		},
	}
}

func (w *workload) pdb() *policyv1.PodDisruptionBudget {
	minAvailable := intstr.FromInt32(w.MinAvailable)
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &minAvailable,
			Selector:     &metav1.LabelSelector{MatchLabels: w.labels()},
		},
	}
}

// count returns the workload's Ready Pods, in total and per node.
func (w *workload) count(ctx context.Context, c kubernetes.Interface) (int, map[string]int, error) {
	pods, err := c.CoreV1().Pods(workloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + w.Name})
	if err != nil {
		return 0, nil, err
	}
	perNode := map[string]int{}
	total := 0
	for _, p := range pods.Items {
		if podReady(p) {
			perNode[p.Spec.NodeName]++
			total++
		}
	}
	return total, perNode, nil
}

// readyPerNode is the recorder's check of the workload: "<node>=<ready>,…".
func (w *workload) readyPerNode(c kubernetes.Interface) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		_, perNode, err := w.count(ctx, c)
		if err != nil {
			return "", err
		}
		return formatPerNode(perNode), nil
	}
}

// deleteWorkload removes the Deployment and PDB (the namespace stays for the next spec);
// objects already gone are success.
func deleteWorkload(ctx context.Context, c kubernetes.Interface, name string) error {
	fg := metav1.DeletePropagationForeground
	err := c.AppsV1().Deployments(workloadNamespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete deployment %s: %w", name, err)
	}
	err = c.PolicyV1().PodDisruptionBudgets(workloadNamespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete PDB %s: %w", name, err)
	}
	return nil
}
