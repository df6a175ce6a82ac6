package fault

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindPartition, func(n Topology, r Record) Fault {
		return Partition{
			nodes:     n,
			Node:      r.Target,
			Peers:     splitPeers(r.Params["peers"]),
			Direction: PartitionDirection(r.Params["direction"]),
		}
	})
}

// KindPartition is the fault kind of a network partition.
const KindPartition = "partition"

// PartitionChain is the iptables chain (filter table) that holds the partition's rules.
// The harness owns every chain named HACHAOS*, so recovery flushes and deletes its own
// chain and never has to guess which rules of INPUT or OUTPUT were ours.
const PartitionChain = "HACHAOS-PARTITION"

// harnessChainPrefix starts the name of every iptables chain the harness creates.
const harnessChainPrefix = "HACHAOS"

// PartitionDirection says which packets between a node and its peers are dropped.
type PartitionDirection string

// The partition directions.
const (
	// PartitionBoth drops packets both ways: a symmetric partition.
	PartitionBoth PartitionDirection = "both"
	// PartitionInbound drops what the node receives from its peers; they still hear it.
	PartitionInbound PartitionDirection = "inbound"
	// PartitionOutbound drops what the node sends to its peers; it still hears them.
	PartitionOutbound PartitionDirection = "outbound"
)

// hooks are the built-in chains that must jump to PartitionChain for the direction.
func (d PartitionDirection) hooks() []string {
	switch d {
	case PartitionInbound:
		return []string{"INPUT"}
	case PartitionOutbound:
		return []string{"OUTPUT"}
	case PartitionBoth:
		return []string{"INPUT", "OUTPUT"}
	}
	return nil
}

// Partition cuts one node off from its peers with iptables DROP rules in the node's own
// network namespace. It acts on the node's host-network processes — on a control plane
// the API server, etcd, kubelet, scheduler and controller manager — not on traffic the
// node forwards for its Pods. With TCP, a one-way partition breaks connections opened
// from either side (the handshake needs both ways); what differs is what still arrives
// one way: UDP, ICMP, and bytes of established streams until they time out.
type Partition struct {
	nodes     Topology
	Node      string
	Peers     []string // IPv4 addresses cut off from Node
	Direction PartitionDirection
}

// NewPartition cuts node off from peers (IPv4 addresses) in the direction dir.
func NewPartition(t Topology, node string, peers []string, dir PartitionDirection) (Partition, error) {
	f := Partition{nodes: t, Node: node, Peers: slices.Clone(peers), Direction: dir}
	if err := f.validate(); err != nil {
		return Partition{}, err
	}
	return f, nil
}

// validate checks every field; the peers end up in a shell script, so only addresses
// that parse as IPv4 may pass.
func (f Partition) validate() error {
	if f.Node == "" {
		return errors.New("partition: Node is empty")
	}
	if len(f.Peers) == 0 {
		return fmt.Errorf("partition of %s: Peers is empty, need at least one address", f.Node)
	}
	for i, p := range f.Peers {
		addr, err := netip.ParseAddr(p)
		if err != nil || !addr.Is4() {
			return fmt.Errorf("partition of %s: Peers[%d] %q is not an IPv4 address (the rules are iptables, IPv4 only)", f.Node, i, p)
		}
	}
	if f.Direction.hooks() == nil {
		return fmt.Errorf("partition of %s: Direction %q is not one of %q, %q, %q",
			f.Node, f.Direction, PartitionBoth, PartitionInbound, PartitionOutbound)
	}
	return nil
}

// Record implements Fault.
func (f Partition) Record() Record {
	return Record{Kind: KindPartition, Target: f.Node, Params: map[string]string{
		"peers":     strings.Join(f.Peers, ","),
		"direction": string(f.Direction),
	}}
}

// Needs implements Fault: iptables rules in the node.
func (f Partition) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

// Inject implements Fault. Injecting again converges on the same rules: the chain is
// rebuilt and each jump is added only if missing.
func (f Partition) Inject(ctx context.Context) error {
	if err := f.validate(); err != nil {
		return err
	}
	if _, err := f.nodes.Exec(ctx, f.Node, nil, "sh", "-c", partitionScript(f.Peers, f.Direction)); err != nil {
		return fmt.Errorf("partition %s from %v (%s): %w", f.Node, f.Peers, f.Direction, err)
	}
	return nil
}

// Recover implements Fault: it removes the chain and every jump to it, so it heals any
// partition of the node whatever the peers; a node without the chain is already healed.
func (f Partition) Recover(ctx context.Context) error {
	if _, err := f.nodes.Exec(ctx, f.Node, nil, "sh", "-c", unpartitionScript()); err != nil {
		return fmt.Errorf("heal partition of %s: %w", f.Node, err)
	}
	return nil
}

// partitionScript builds the partition in one shell script, so it is all-or-error. The
// jumps go to position 1 so they precede every other rule, including the conntrack
// ACCEPT of established connections: open connections are cut too. Jumps from a hook
// the direction does not use (left by an earlier Inject) are removed. -w waits for the
// xtables lock where iptables is legacy (kube-proxy takes it); nf_tables ignores it.
func partitionScript(peers []string, dir PartitionDirection) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	fmt.Fprintf(&b, "iptables -w -N %[1]s 2>/dev/null || iptables -w -F %[1]s\n", PartitionChain)
	for _, p := range peers {
		if dir != PartitionOutbound {
			fmt.Fprintf(&b, "iptables -w -A %s -s %s -j DROP\n", PartitionChain, p)
		}
		if dir != PartitionInbound {
			fmt.Fprintf(&b, "iptables -w -A %s -d %s -j DROP\n", PartitionChain, p)
		}
	}
	hooks := dir.hooks()
	for _, hook := range []string{"INPUT", "OUTPUT"} {
		if slices.Contains(hooks, hook) {
			fmt.Fprintf(&b, "iptables -w -C %[1]s -j %[2]s 2>/dev/null || iptables -w -I %[1]s 1 -j %[2]s\n", hook, PartitionChain)
		} else {
			b.WriteString(unhookLine(hook))
		}
	}
	return b.String()
}

// unpartitionScript removes the partition chain. It first lists the rules, which fails
// loudly when iptables itself does not work; only a chain absent from a successful
// listing counts as already healed. Then each step must succeed: a jump that could not
// be deleted makes -X fail ("chain in use") rather than pass silently.
func unpartitionScript() string {
	var b strings.Builder
	b.WriteString("set -e\n")
	b.WriteString("rules=$(iptables -w -S)\n")
	// The harness owns every HACHAOS* name, so a substring match is exact enough.
	fmt.Fprintf(&b, "case \"$rules\" in *\"-N %s\"*) ;; *) exit 0 ;; esac\n", PartitionChain)
	b.WriteString(unhookLine("INPUT"))
	b.WriteString(unhookLine("OUTPUT"))
	fmt.Fprintf(&b, "iptables -w -F %[1]s\niptables -w -X %[1]s\n", PartitionChain)
	return b.String()
}

// unhookLine deletes every jump from hook to the partition chain, however many there are.
func unhookLine(hook string) string {
	return fmt.Sprintf("while iptables -w -D %s -j %s 2>/dev/null; do :; done\n", hook, PartitionChain)
}

// ControlPlanePeers lists the addresses to cut the control-plane node named node off
// from: every other control plane and, with includeLB, the load balancer(s). External
// etcd members are not peers: with external etcd the partition isolates the node from
// the other control planes only, and it still reaches etcd.
func ControlPlanePeers(ctx context.Context, t Topology, node string, includeLB bool) ([]string, error) {
	planes, err := t.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return nil, fmt.Errorf("list control planes for the peers of %s: %w", node, err)
	}
	if !slices.ContainsFunc(planes, func(n topology.Node) bool { return n.Name == node }) {
		return nil, fmt.Errorf("peers of %s: it is not a control-plane node (control planes: %v)", node, nodeNames(planes))
	}
	peers := slices.DeleteFunc(planes, func(n topology.Node) bool { return n.Name == node })
	if includeLB {
		lbs, err := t.Nodes(ctx, topology.RoleLoadBalancer)
		if err != nil {
			return nil, fmt.Errorf("list load balancers for the peers of %s: %w", node, err)
		}
		peers = append(peers, lbs...)
	}
	return peerIPs(node, peers)
}

// peerIPs takes the addresses of peers; a peer without one cannot be partitioned from.
func peerIPs(node string, peers []topology.Node) ([]string, error) {
	if len(peers) == 0 {
		return nil, fmt.Errorf("peers of %s: there are none (it is the only control plane)", node)
	}
	ips := make([]string, 0, len(peers))
	for _, p := range peers {
		if p.IP == "" {
			return nil, fmt.Errorf("peers of %s: node %s has no IP address", node, p.Name)
		}
		ips = append(ips, p.IP)
	}
	return ips, nil
}

func nodeNames(nodes []topology.Node) []string {
	names := make([]string, 0, len(nodes))
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return names
}

// HarnessChains lists the iptables chains of the harness (named HACHAOS*) in the filter
// table of node: after every fault is recovered, there must be none.
func HarnessChains(ctx context.Context, t Topology, node string) ([]string, error) {
	out, err := t.Exec(ctx, node, nil, "iptables", "-w", "-S")
	if err != nil {
		return nil, fmt.Errorf("list iptables chains on %s: %w", node, err)
	}
	return parseHarnessChains(string(out)), nil
}

// parseHarnessChains picks the harness's chains from `iptables -S` output, where each
// user-defined chain is declared by a line "-N NAME".
func parseHarnessChains(rules string) []string {
	var chains []string
	for _, line := range strings.Split(rules, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == "-N" && strings.HasPrefix(fields[1], harnessChainPrefix) {
			chains = append(chains, fields[1])
		}
	}
	return chains
}

// splitPeers reverses the comma join of a Record's "peers".
func splitPeers(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
