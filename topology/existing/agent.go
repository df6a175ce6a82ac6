package existing

import (
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/hachaos/hachaos/internal/agent"
)

// The node agent's names: one namespace of hachaos' own holds everything the agent is,
// so removing it removes all of it.
const (
	AgentNamespace = "hachaos-agent"
	AgentName      = "hachaos-agent"
	agentContainer = "agent"
	secretDir      = "/etc/hachaos-agent"
	// ManagedByLabel marks what hachaos created in a cluster it did not create.
	ManagedByLabel = "app.kubernetes.io/managed-by"
)

// Agent is hachaos' node agent on a cluster it did not create: a privileged DaemonSet
// (host PID and network namespaces, every taint tolerated) whose Pods run
// `hachaos-probe agent`, an HTTPS server on the node's address that runs a command in
// the node's namespaces (nsenter on PID 1), as a root shell on the node would (package
// internal/agent says why not pods/exec). It replaces what `docker exec` is on kind: no
// Docker and no SSH, only the Kubernetes API to start it and the node's address to reach
// it. The token and certificate live in a Secret of the agent's namespace, so a later
// run (one recovering what a killed run left) reaches the same agents.
type Agent struct {
	client kubernetes.Interface
	image  string

	mu     sync.Mutex
	nodes  map[string]string // node → its agent's address (host:port), once Ready
	caller *agent.Client
}

// NewAgent is the agent with image on the cluster behind client; it starts nothing yet.
func NewAgent(client kubernetes.Interface, image string) *Agent {
	return &Agent{client: client, image: image}
}

// Start creates what of the agent is missing — its namespace, Secret and DaemonSet —
// and waits, up to timeout, for a Ready agent on every node. An agent already running
// is only read, never written: a run recovering what a killed run left may find the API
// answering reads only (a partitioned etcd member's API server times out writes until
// the load balancer takes it out), so every step is retried until timeout.
func (a *Agent) Start(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := a.startOnce(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node agent (%s, image %s) not ready within %s: %w", AgentNamespace, a.image, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// startOnce makes one pass: what is missing created, the agents' addresses read.
func (a *Agent) startOnce(ctx context.Context) error {
	if err := a.ensureNamespace(ctx); err != nil {
		return err
	}
	creds, err := a.credentials(ctx)
	if err != nil {
		return err
	}
	if err := a.ensureDaemonSet(ctx); err != nil {
		return err
	}
	caller, err := agent.NewClient(creds.CertPEM, creds.Token)
	if err != nil {
		return err
	}
	nodes, missing, err := a.readyAgents(ctx)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("no Ready agent Pod on %s", strings.Join(missing, ", "))
	}
	a.mu.Lock()
	a.nodes, a.caller = nodes, caller
	a.mu.Unlock()
	return nil
}

func (a *Agent) ensureNamespace(ctx context.Context) error {
	_, err := a.client.CoreV1().Namespaces().Get(ctx, AgentNamespace, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: AgentNamespace, Labels: map[string]string{
		ManagedByLabel: "hachaos",
		// the agent is privileged by design; a cluster enforcing Pod Security elsewhere
		// must admit it here
		"pod-security.kubernetes.io/enforce": "privileged",
	}}}
	if _, err := a.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", AgentNamespace, err)
	}
	return nil
}

// ensureDaemonSet creates the agent's DaemonSet, or updates it to the Spec's image.
func (a *Agent) ensureDaemonSet(ctx context.Context) error {
	want := agentDaemonSet(a.image)
	have, err := a.client.AppsV1().DaemonSets(AgentNamespace).Get(ctx, AgentName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = a.client.AppsV1().DaemonSets(AgentNamespace).Create(ctx, want, metav1.CreateOptions{})
	case err == nil && have.Spec.Template.Spec.Containers[0].Image != a.image:
		have.Spec = want.Spec
		_, err = a.client.AppsV1().DaemonSets(AgentNamespace).Update(ctx, have, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("DaemonSet %s/%s: %w", AgentNamespace, AgentName, err)
	}
	return nil
}

// credentials are the agents' certificate and token from the agent's Secret, created
// with new ones when there is none.
func (a *Agent) credentials(ctx context.Context) (agent.Credentials, error) {
	secret, err := a.client.CoreV1().Secrets(AgentNamespace).Get(ctx, AgentName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		creds, err := agent.NewCredentials()
		if err != nil {
			return agent.Credentials{}, err
		}
		secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: AgentName, Namespace: AgentNamespace, Labels: map[string]string{ManagedByLabel: "hachaos"}},
			Data: map[string][]byte{agent.CertKey: creds.CertPEM, agent.KeyKey: creds.KeyPEM, agent.TokenKey: []byte(creds.Token)}}
		if secret, err = a.client.CoreV1().Secrets(AgentNamespace).Create(ctx, secret, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
			return a.credentials(ctx) // another start won the race: use its
		} else if err != nil {
			return agent.Credentials{}, fmt.Errorf("create Secret %s/%s: %w", AgentNamespace, AgentName, err)
		}
	} else if err != nil {
		return agent.Credentials{}, fmt.Errorf("read Secret %s/%s: %w", AgentNamespace, AgentName, err)
	}
	return agent.Credentials{CertPEM: secret.Data[agent.CertKey], KeyPEM: secret.Data[agent.KeyKey], Token: string(secret.Data[agent.TokenKey])}, nil
}

// agentDaemonSet is the agent's DaemonSet: on every node (every taint tolerated), in the
// host's PID and network namespaces, privileged, doing nothing until a command comes.
func agentDaemonSet(image string) *appsv1.DaemonSet {
	labels := map[string]string{"app": AgentName, ManagedByLabel: "hachaos"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: AgentName, Namespace: AgentNamespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": AgentName}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostPID:                       true,
					HostNetwork:                   true,
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					AutomountServiceAccountToken:  ptr.To(false),
					Containers: []corev1.Container{{
						Name:            agentContainer,
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"hachaos-probe", "agent", secretDir},
						SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
						VolumeMounts:    []corev1.VolumeMount{{Name: "credentials", MountPath: secretDir, ReadOnly: true}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
							Path: "/healthz", Port: intstr.FromInt32(agent.Port), Scheme: corev1.URISchemeHTTPS}}, PeriodSeconds: 1},
					}},
					Volumes: []corev1.Volume{{Name: "credentials", VolumeSource: corev1.VolumeSource{
						Secret: &corev1.SecretVolumeSource{SecretName: AgentName, DefaultMode: ptr.To[int32](0o400)}}}},
				},
			},
		},
	}
}

// readyAgents maps each node to its Ready agent's address and lists the nodes without one.
func (a *Agent) readyAgents(ctx context.Context) (map[string]string, []string, error) {
	nodes, err := a.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("list nodes: %w", err)
	}
	pods, err := a.client.CoreV1().Pods(AgentNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + AgentName})
	if err != nil {
		return nil, nil, fmt.Errorf("list agent Pods: %w", err)
	}
	ready := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && podReady(p) && p.Status.HostIP != "" {
			ready[p.Spec.NodeName] = net.JoinHostPort(p.Status.HostIP, strconv.Itoa(agent.Port))
		}
	}
	var missing []string
	for _, n := range nodes.Items {
		if ready[n.Name] == "" {
			missing = append(missing, n.Name)
		}
	}
	sort.Strings(missing)
	return ready, missing, nil
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Stop removes the agent: its namespace, and with it the DaemonSet and its Pods; it
// waits, up to timeout, until the namespace is gone. An agent already gone is success.
func (a *Agent) Stop(ctx context.Context, timeout time.Duration) error {
	a.mu.Lock()
	a.nodes, a.caller = nil, nil
	a.mu.Unlock()
	err := a.client.CoreV1().Namespaces().Delete(ctx, AgentNamespace, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", AgentNamespace, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		_, err := a.client.CoreV1().Namespaces().Get(ctx, AgentNamespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s still there %s after its deletion (%v)", AgentNamespace, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Exec runs cmd as root on node, in the node's mount, UTS, IPC, network and PID
// namespaces, and returns its standard output; a non-zero exit is an *ExitError carrying
// the exit code and stderr.
func (a *Agent) Exec(ctx context.Context, node string, stdin io.Reader, cmd ...string) ([]byte, error) {
	address, caller, err := a.agentOn(ctx, node)
	if err != nil {
		return nil, err
	}
	res, err := caller.Exec(ctx, address, stdin, cmd)
	if err != nil {
		return res.Stdout, fmt.Errorf("exec %q through the agent on %s: %w", cmd, node, err)
	}
	if res.ExitCode != 0 {
		return res.Stdout, &ExitError{Node: node, Command: cmd, Code: res.ExitCode, Stderr: string(res.Stderr)}
	}
	return res.Stdout, nil
}

// ExitError is a command the agent ran that exited non-zero.
type ExitError struct {
	Node    string
	Command []string
	Code    int
	Stderr  string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("agent exec on %s %q: exit %d\nstderr:\n%s", e.Node, e.Command, e.Code, e.Stderr)
}

// ExitCode is the command's exit code.
func (e *ExitError) ExitCode() int { return e.Code }

// agentOn is the address of the agent on node and the client to ask it with, starting
// the agent when it is not running: a run killed during a fault is recovered by the next
// one before anything else, agent or not.
func (a *Agent) agentOn(ctx context.Context, node string) (string, *agent.Client, error) {
	a.mu.Lock()
	address, ok := a.nodes[node]
	caller := a.caller
	a.mu.Unlock()
	if ok {
		return address, caller, nil
	}
	if err := a.Start(ctx, agentStartTimeout); err != nil {
		return "", nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if address, ok = a.nodes[node]; !ok {
		return "", nil, fmt.Errorf("no node %q in the cluster (no agent there)", node)
	}
	return address, a.caller, nil
}

// agentStartTimeout bounds the agent's start: an image already on the nodes starts in
// seconds; a pull from a mirror may take a minute.
const agentStartTimeout = 2 * time.Minute
