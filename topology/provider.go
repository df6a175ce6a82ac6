package topology

import (
	"fmt"
	"time"
)

// Role is what a node does in the topology.
type Role string

// The roles a topology's nodes play. Every provider uses these names.
const (
	RoleControlPlane Role = "control-plane"
	RoleWorker       Role = "worker"
	RoleEtcd         Role = "etcd"          // an external etcd member (stacked members live on control planes)
	RoleLoadBalancer Role = "load-balancer" // the load balancer in front of the API servers
)

// Node is one machine (container) of the topology.
type Node struct {
	Name        string // also the hostname and the Kubernetes node name, where there is one
	Role        Role
	IP          string // address on the cluster network, reachable from the host
	ContainerID string
	// Command is the node's main process command line as the provider started it (for
	// an external etcd member: etcd and its flags).
	Command string
}

// NodeState is a node machine's lifecycle state: whether it runs (a paused machine
// runs), is paused, and when its main process last started (a restart policy that
// brought a crashed machine back moves it).
type NodeState struct {
	Running   bool
	Paused    bool
	StartedAt time.Time
}

// NodeAction is a lifecycle change of a node's machine (container).
type NodeAction string

// The node actions every provider implements.
const (
	// NodeStop shuts the node down cleanly (SIGTERM, then SIGKILL after a grace period);
	// it stays down until NodeStart.
	NodeStop NodeAction = "stop"
	// NodeStart starts a stopped node.
	NodeStart NodeAction = "start"
	// NodePause freezes every process of the node (cgroup freezer): alive, silent.
	NodePause NodeAction = "pause"
	// NodeUnpause thaws a paused node.
	NodeUnpause NodeAction = "unpause"
	// NodeCrash kills the node's main process with SIGKILL, as a crash would; whether it
	// comes back is up to its restart policy (external etcd members restart).
	NodeCrash NodeAction = "crash"
)

// Progress receives what long operations are doing, for people watching a run.
type Progress func(format string, args ...any)

// StepTimer reports a step's start and end with its duration through a Progress.
func StepTimer(p Progress, name string) func(err *error) {
	start := time.Now()
	p("▶ %s", name)
	return func(err *error) {
		if err != nil && *err != nil {
			p("✘ %s failed after %s", name, time.Since(start).Round(100*time.Millisecond))
			return
		}
		p("✔ %s (%s)", name, time.Since(start).Round(100*time.Millisecond))
	}
}

// Capability is a way of acting on a cluster beyond its Kubernetes API. A fault names
// the ones it needs; a provider may lack some (a cluster hachaos did not create has no
// machines hachaos can pause), and a spec whose fault needs one it lacks is skipped with
// the reason, never silently left out.
type Capability string

// The capabilities faults need.
const (
	// CapabilityNodeCommands: root commands in a node (signals, static Pod manifests,
	// iptables rules in the harness's own chain).
	CapabilityNodeCommands Capability = "node-commands"
	// CapabilityNodeMachines: stop, start, pause and crash a node's whole machine.
	CapabilityNodeMachines Capability = "node-machines"
	// CapabilityCPULimits: cap a node machine's CPUs.
	CapabilityCPULimits Capability = "cpu-limits"
	// CapabilityLBConfig: change the load balancer's configuration (its health checks).
	CapabilityLBConfig Capability = "lb-config"
	// CapabilityLBStates: read the load balancer's view of its servers (HAProxy's stats
	// socket): what the LB specs judge "marked DOWN" and "back in rotation" on.
	CapabilityLBStates Capability = "lb-states"
)

// Capabilities says what a provider can do: everything but what Lacking names, each
// with the reason.
type Capabilities struct {
	Provider string                // the provider's name, as the Spec names it ("kind")
	Lacking  map[Capability]string // a capability it lacks → why
}

// Missing lists the needed capabilities the provider lacks, each with its reason, in
// the order needed; nil when it has them all.
func (c Capabilities) Missing(needs []Capability) []string {
	var missing []string
	for _, n := range needs {
		if why, lacks := c.Lacking[n]; lacks {
			missing = append(missing, fmt.Sprintf("%s (%s)", n, why))
		}
	}
	return missing
}
