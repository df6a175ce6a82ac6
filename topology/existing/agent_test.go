package existing

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/hachaos/hachaos/topology"
)

// The agent runs on every node, taints or not, in the host's PID and network
// namespaces, privileged, and does nothing until asked.
func TestAgentDaemonSetReachesEveryNodeAsRoot(t *testing.T) {
	ds := agentDaemonSet("mirror.example/hachaos/agent:v1")
	pod := ds.Spec.Template.Spec
	if !pod.HostPID || !pod.HostNetwork {
		t.Errorf("hostPID %v, hostNetwork %v: nsenter on PID 1 needs the host's PID namespace, iptables its network", pod.HostPID, pod.HostNetwork)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Operator != corev1.TolerationOpExists || pod.Tolerations[0].Key != "" {
		t.Errorf("tolerations %v: control planes are tainted; the agent must tolerate every taint", pod.Tolerations)
	}
	c := pod.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("the agent container is not privileged")
	}
	if c.Image != "mirror.example/hachaos/agent:v1" || strings.Join(c.Command, " ") != "hachaos-probe agent "+secretDir {
		t.Errorf("container %s %v", c.Image, c.Command)
	}
}

// Start waits for a Ready agent Pod on every node and names the nodes still without one;
// Stop removes the namespace, and an agent already gone is success.
func TestAgentStartWaitsForEveryNodeAndStopRemovesIt(t *testing.T) {
	client := fake.NewClientset(node("cp1", "10.0.0.1", true), node("w1", "10.0.0.21", false),
		agentPod("hachaos-agent-a", "cp1", true), agentPod("hachaos-agent-b", "w1", false))
	a := NewAgent(client, "hachaos/agent:v1")
	err := a.Start(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "no Ready agent Pod on w1") {
		t.Fatalf("Start with w1's agent not Ready: %v, want it named", err)
	}
	if _, err := client.AppsV1().DaemonSets(AgentNamespace).Get(context.Background(), AgentName, metav1.GetOptions{}); err != nil {
		t.Fatalf("Start created no DaemonSet: %v", err)
	}
	ready := agentPod("hachaos-agent-b", "w1", true)
	if _, err := client.CoreV1().Pods(AgentNamespace).Update(context.Background(), ready, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background(), time.Second); err != nil {
		t.Fatalf("Start with every agent Ready: %v", err)
	}
	if address, _, _ := a.agentOn(context.Background(), "w1"); address != "10.0.0.21:10290" {
		t.Errorf("agent on w1 at %q, want the node's address and the agent's port", address)
	}
	if err := a.Stop(context.Background(), time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := client.CoreV1().Namespaces().Get(context.Background(), AgentNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after Stop: %v", AgentNamespace, err)
	}
	if err := a.Stop(context.Background(), time.Second); err != nil {
		t.Errorf("Stop of an agent already gone: %v", err)
	}
}

func agentPod(name, node string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: AgentNamespace, Labels: map[string]string{"app": AgentName}},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{HostIP: map[string]string{"cp1": "10.0.0.1", "w1": "10.0.0.21"}[node], Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
}

// An existing cluster's provider acts in nodes through the agent and lacks the rest,
// each with its reason: the specs whose faults need them are skipped, never run.
func TestExistingProviderLacksMachinesCPUAndLBConfig(t *testing.T) {
	c := (&Provider{}).Capabilities()
	if missing := c.Missing([]topology.Capability{topology.CapabilityNodeCommands}); len(missing) != 0 {
		t.Errorf("node commands lacking: %v", missing)
	}
	for _, lacking := range []topology.Capability{topology.CapabilityNodeMachines, topology.CapabilityCPULimits, topology.CapabilityLBConfig, topology.CapabilityLBStates} {
		if len(c.Missing([]topology.Capability{lacking})) != 1 {
			t.Errorf("%s not lacking", lacking)
		}
	}
}

// The LB's view of its servers is read where the Spec names its stats socket, and only
// there: without one the LB specs are skipped with the reason.
func TestExistingProviderReadsLBStatesOnlyWithAStatsAddress(t *testing.T) {
	spec := topology.Default()
	spec.Provider, spec.Kubeconfig, spec.IsolatedNodeCPUs = topology.ProviderExisting, "/k", 0
	if err := spec.Validate(); err != nil {
		t.Fatalf("an existing Spec without loadBalancer.statsAddress is refused: %v", err)
	}
	if why := (&Provider{spec: spec}).Capabilities().Lacking[topology.CapabilityLBStates]; !strings.Contains(why, "loadBalancer.statsAddress") {
		t.Errorf("without a stats address lb-states is lacking for %q, want the field named", why)
	}
	spec.LoadBalancer.StatsAddress = "192.0.2.10:8404"
	if _, lacks := (&Provider{spec: spec}).Capabilities().Lacking[topology.CapabilityLBStates]; lacks {
		t.Error("with a stats address lb-states is lacking")
	}
}
