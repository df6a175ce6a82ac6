package fault

import (
	"fmt"

	"github.com/hachaos/hachaos/topology"
)

// Description says in words what a fault does to its target and how it is recovered:
// what hachaos run --dry-run lists for a cluster it is about to act on.
type Description struct {
	Injects  string `json:"injects"`
	Recovery string `json:"recovery"`
}

// Describe describes a fault of kind with params (its Record's; the mode of an etcd
// member's or a worker's fault changes what it does). An unknown kind is an error.
func Describe(kind string, params map[string]string) (Description, error) {
	if _, ok := registry[kind]; !ok {
		return Description{}, fmt.Errorf("no fault kind %q (known: %v)", kind, Kinds())
	}
	if d, ok := modeDescriptions[kind+"/"+params["mode"]]; ok {
		return d, nil
	}
	if d, ok := descriptions[kind]; ok {
		return d, nil
	}
	return Description{}, fmt.Errorf("fault kind %q has no description (fault/describe.go)", kind)
}

// descriptions are the kinds whose action does not depend on a mode.
var descriptions = map[string]Description{
	KindAPIServerStop: {"the API server's static Pod manifest moved out of the kubelet's folder: the kubelet stops it gracefully",
		"the manifest moved back; the kubelet starts the API server again"},
	KindAPIServerFreeze: {"SIGSTOP to the API server process: alive, accepting connections, answering nothing",
		"SIGCONT (a process restarted meanwhile counts as recovered)"},
	KindProcessKill: {"SIGKILL to the component's process (no graceful shutdown, no Lease released)",
		"none needed: the kubelet restarts the static Pod's container"},
	KindPartition: {"iptables DROP rules in the harness's chain " + PartitionChain + " in the node: cut off from the other control planes (and external etcd members)",
		"the chain and every jump to it deleted"},
	KindCPULimit: {"the node's machine capped at a number of CPUs (the isolated node's own hardware, on a shared host)",
		"the cap lifted"},
	KindWorkerDrain: {"cordon, then evict every Pod but DaemonSet and mirror Pods (kubectl drain; PodDisruptionBudgets honoured)",
		"uncordon"},
	KindManifestFlags: {"(sabotage) a static Pod's manifest rewritten with other flags; the original parked in /etc/kubernetes/hachaos-parked",
		"the original manifest put back"},
	KindStaticPodNoRestart: {"(sabotage) a static Pod's manifest with restartPolicy Never; the original parked",
		"the original manifest put back"},
	KindSeparateEtcd: {"(sabotage) a single-member etcd of the harness's own as a static Pod on the node",
		"its manifest and data removed; the kubelet stops it"},
	KindAnonymousAdmin: {"(sabotage) cluster-admin bound to system:unauthenticated",
		"the binding deleted"},
	KindLBNoChecks: {"(sabotage) HAProxy reloaded without health checks or redispatch", "the original configuration reloaded"},
	KindLBRise:     {"(sabotage) HAProxy reloaded with a longer rise", "the original configuration reloaded"},
	KindLBServerMaint: {"one API server taken out of HAProxy's rotation (runtime API: state maint; an upgrade's planned maintenance)",
		"state ready: its health checks decide again"},
	KindLBCheckPath: {"(sabotage) HAProxy reloaded checking another path",
		"the original configuration reloaded"},
}

// modeDescriptions are the kinds whose action depends on params["mode"].
var modeDescriptions = map[string]Description{
	KindEtcdMemberStop + "/" + string(topology.EtcdStacked): {"the node's kubelet paused (SIGSTOP), then SIGTERM to the etcd member",
		"the kubelet resumed (SIGCONT); it restarts the member, which rejoins with its data"},
	KindEtcdMemberStop + "/" + string(topology.EtcdExternal):  {"the member's machine stopped", "the machine started; the member rejoins with its data"},
	KindEtcdMemberCrash + "/" + string(topology.EtcdStacked):  {"SIGKILL to the etcd member", "none needed: the kubelet restarts it"},
	KindEtcdMemberCrash + "/" + string(topology.EtcdExternal): {"SIGKILL to the etcd process in the member's own machine", "none needed: the machine's restart policy restarts it"},
	KindWorkerLoss + "/" + string(WorkerLossPause): {"every process of the worker's machine frozen",
		"the machine thawed"},
	KindWorkerLoss + "/" + string(WorkerLossStop): {"the worker's machine stopped", "the machine started"},
	KindWorkerLoss + "/" + string(WorkerLossCutOff): {"the worker's traffic dropped in the harness's chain " + CutOffChain + " (all but the agent's port), then its kubelet and container runtime stopped; its containers keep running, cut off",
		"the chain deleted, then the container runtime and the kubelet started"},
}
