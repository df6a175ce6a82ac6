package fault

import (
	"context"
	"fmt"
	"strings"

	"github.com/hachaos/hachaos/internal/agent"
)

// CutOffChain is the iptables chain (filter table) that drops a cut-off worker's
// traffic. Like PartitionChain it is the harness's own (HACHAOS*), so recovery deletes
// the chain and never has to guess which rules were ours.
const CutOffChain = "HACHAOS-CUTOFF"

// runtimeUnits are the container runtimes' systemd units a cut-off stops, when present.
// Both keep running containers alive when stopped (containerd's unit has
// KillMode=process; CRI-O's containers run under conmon), so the harness's agent — a
// container on the node — keeps answering. Docker is not among them: stopping dockerd
// stops its containers.
var runtimeUnits = []string{"containerd", "crio"}

// cutOff drops the worker's traffic, then stops its kubelet and container runtime.
func (f WorkerLoss) cutOff(ctx context.Context) error {
	if _, err := f.nodes.Exec(ctx, f.Node, nil, "sh", "-c", cutOffScript(agent.Port)); err != nil {
		return fmt.Errorf("cut off worker %s: %w", f.Node, err)
	}
	return nil
}

// reconnect undoes cutOff in the opposite order: traffic first, as a machine that
// powers on has its network before its services, then the runtime and the kubelet.
// Starting a running unit and healing a node without the chain are no-ops, so it
// recovers a worker in any state a killed run left.
func (f WorkerLoss) reconnect(ctx context.Context) error {
	if _, err := f.nodes.Exec(ctx, f.Node, nil, "sh", "-c", reconnectScript()); err != nil {
		return fmt.Errorf("reconnect worker %s: %w", f.Node, err)
	}
	return nil
}

// cutOffScript builds the cut-off in one shell script, all-or-error. The chain drops
// everything the node receives, sends or forwards (its Pods' traffic) except loopback
// and the agent's port, through which the harness recovers it; exceptions RETURN so
// the node's own rules still apply to them. Jumps go first in each hook, before the
// conntrack ACCEPT of established connections: open connections are cut too.
func cutOffScript(agentPort int) string {
	var b strings.Builder
	b.WriteString("set -e\ncommand -v systemctl >/dev/null || { echo 'no systemctl: the node is not run by systemd' >&2; exit 1; }\n")
	b.WriteString("runtime=\nfor u in " + strings.Join(runtimeUnits, " ") + "; do systemctl is-active --quiet $u && runtime=\"$runtime $u\"; done\n")
	b.WriteString("[ -n \"$runtime\" ] || { echo 'no running container runtime among: " + strings.Join(runtimeUnits, " ") + "' >&2; exit 1; }\n")
	fmt.Fprintf(&b, "iptables -w -N %[1]s 2>/dev/null || iptables -w -F %[1]s\n", CutOffChain)
	fmt.Fprintf(&b, "iptables -w -A %s -i lo -j RETURN\n", CutOffChain)
	fmt.Fprintf(&b, "iptables -w -A %s -o lo -j RETURN\n", CutOffChain)
	fmt.Fprintf(&b, "iptables -w -A %s -p tcp --dport %d -j RETURN\n", CutOffChain, agentPort)
	fmt.Fprintf(&b, "iptables -w -A %s -p tcp --sport %d -j RETURN\n", CutOffChain, agentPort)
	fmt.Fprintf(&b, "iptables -w -A %s -j DROP\n", CutOffChain)
	for _, hook := range cutOffHooks {
		fmt.Fprintf(&b, "iptables -w -C %[1]s -j %[2]s 2>/dev/null || iptables -w -I %[1]s 1 -j %[2]s\n", hook, CutOffChain)
	}
	b.WriteString("systemctl stop kubelet $runtime\n")
	return b.String()
}

// cutOffHooks are the built-in chains that jump to CutOffChain.
var cutOffHooks = []string{"INPUT", "OUTPUT", "FORWARD"}

// reconnectScript removes the chain (only a chain absent from a successful listing
// counts as already removed), then starts the runtime units the node has and the
// kubelet.
func reconnectScript() string {
	var b strings.Builder
	b.WriteString("set -e\nrules=$(iptables -w -S)\n")
	fmt.Fprintf(&b, "case \"$rules\" in *\"-N %s\"*)\n", CutOffChain)
	for _, hook := range cutOffHooks {
		fmt.Fprintf(&b, "  while iptables -w -D %s -j %s 2>/dev/null; do :; done\n", hook, CutOffChain)
	}
	fmt.Fprintf(&b, "  iptables -w -F %[1]s\n  iptables -w -X %[1]s ;;\nesac\n", CutOffChain)
	b.WriteString("for u in " + strings.Join(runtimeUnits, " ") + "; do if systemctl cat $u.service >/dev/null 2>&1; then systemctl start $u; fi; done\n")
	b.WriteString("systemctl start kubelet\n")
	return b.String()
}
