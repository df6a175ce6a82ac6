package fault

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hachaos/hachaos/topology"
)

var testPeers = []string{"172.18.0.3", "172.18.0.4"}

func TestPartitionScriptDropsTheDirectionsPacketsFromTheRightHooks(t *testing.T) {
	const (
		inDrop  = "iptables -w -A HACHAOS-PARTITION -s 172.18.0.4 -j DROP"
		outDrop = "iptables -w -A HACHAOS-PARTITION -d 172.18.0.4 -j DROP"
		inHook  = "iptables -w -C INPUT -j HACHAOS-PARTITION 2>/dev/null || iptables -w -I INPUT 1 -j HACHAOS-PARTITION"
		outHook = "iptables -w -C OUTPUT -j HACHAOS-PARTITION 2>/dev/null || iptables -w -I OUTPUT 1 -j HACHAOS-PARTITION"
		inUnhk  = "while iptables -w -D INPUT -j HACHAOS-PARTITION 2>/dev/null; do :; done"
		outUnhk = "while iptables -w -D OUTPUT -j HACHAOS-PARTITION 2>/dev/null; do :; done"
	)
	for _, tc := range []struct {
		dir           PartitionDirection
		want, notWant []string
	}{
		{PartitionBoth, []string{inDrop, outDrop, inHook, outHook}, []string{inUnhk, outUnhk}},
		{PartitionInbound, []string{inDrop, inHook, outUnhk}, []string{outDrop, outHook, inUnhk}},
		{PartitionOutbound, []string{outDrop, outHook, inUnhk}, []string{inDrop, inHook, outUnhk}},
	} {
		t.Run(string(tc.dir), func(t *testing.T) {
			lines := strings.Split(partitionScript(testPeers, tc.dir), "\n")
			if lines[0] != "set -e" || lines[1] != "iptables -w -N HACHAOS-PARTITION 2>/dev/null || iptables -w -F HACHAOS-PARTITION" {
				t.Errorf("script must stop at the first error and start from an empty chain; starts %q", lines[:2])
			}
			for _, w := range tc.want {
				if !slices.Contains(lines, w) {
					t.Errorf("missing %q in\n%s", w, strings.Join(lines, "\n"))
				}
			}
			for _, nw := range tc.notWant {
				if slices.Contains(lines, nw) {
					t.Errorf("unexpected %q in\n%s", nw, strings.Join(lines, "\n"))
				}
			}
			for _, l := range lines {
				if strings.Contains(l, " -I ") && !strings.HasPrefix(l, "iptables -w -C ") {
					t.Errorf("jump %q is not guarded by -C: a second Inject would add it twice", l)
				}
			}
		})
	}
}

// iptablesStub is a fake iptables for running the scripts with sh: it logs its
// arguments and answers as its environment says.
const iptablesStub = `#!/bin/sh
echo "$*" >> "$STUB_DIR/log"
case "$*" in
"-w -S") printf '%s\n' "$STUB_RULES" ;;
"-w -N "*) [ -z "$STUB_CHAIN_EXISTS" ] ;;
"-w -C "*) [ -n "$STUB_JUMP_EXISTS" ] ;;
"-w -X "*) [ -z "$STUB_FAIL_X" ] ;;
"-w -D "*)
	n=0
	if [ -f "$STUB_DIR/deleted" ]; then read n < "$STUB_DIR/deleted"; fi
	[ "$n" -lt "${STUB_JUMPS:-0}" ] || exit 1
	echo $((n+1)) > "$STUB_DIR/deleted" ;;
esac
`

// runScript runs script with sh; with a stub, iptables is iptablesStub, else there is
// no iptables at all. It returns the iptables calls and the script's error.
func runScript(t *testing.T, script string, stub bool, env ...string) ([]string, error) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run the script with")
	}
	dir := t.TempDir()
	if stub {
		if err := os.WriteFile(filepath.Join(dir, "iptables"), []byte(iptablesStub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sh, "-c", script)
	cmd.Env = append([]string{"PATH=" + dir, "STUB_DIR=" + dir}, env...)
	runErr := cmd.Run()
	log, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(log)), "\n"), runErr
}

func TestPartitionScriptAddsAJumpOnlyWhenMissing(t *testing.T) {
	calls, err := runScript(t, partitionScript(testPeers, PartitionInbound), true)
	if err != nil || !slices.Contains(calls, "-w -I INPUT 1 -j HACHAOS-PARTITION") {
		t.Fatalf("first Inject: err %v, calls %q; want a jump inserted at INPUT position 1", err, calls)
	}
	calls, err = runScript(t, partitionScript(testPeers, PartitionInbound), true, "STUB_CHAIN_EXISTS=1", "STUB_JUMP_EXISTS=1")
	if err != nil || !slices.Contains(calls, "-w -F HACHAOS-PARTITION") || slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "-I ") }) {
		t.Fatalf("second Inject: err %v, calls %q; want the chain flushed and no second jump", err, calls)
	}
}

func TestUnpartitionScriptTakesOnlyAMissingChainAsHealed(t *testing.T) {
	present := "STUB_RULES=-P INPUT ACCEPT\n-N HACHAOS-PARTITION\n-A INPUT -j HACHAOS-PARTITION"
	for _, tc := range []struct {
		name    string
		stub    bool
		env     []string
		wantErr bool
		want    []string // the last iptables calls
	}{
		{"chain gone", true, []string{"STUB_RULES=-P INPUT ACCEPT"}, false, []string{"-w -S"}},
		{"no iptables", false, nil, true, nil},
		{"chain with jumps", true, []string{present, "STUB_JUMPS=2"}, false,
			[]string{"-w -D INPUT -j HACHAOS-PARTITION", "-w -D OUTPUT -j HACHAOS-PARTITION", "-w -F HACHAOS-PARTITION", "-w -X HACHAOS-PARTITION"}},
		{"chain cannot be deleted", true, []string{present, "STUB_FAIL_X=1"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls, err := runScript(t, unpartitionScript(), tc.stub, tc.env...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v (calls %q)", err, tc.wantErr, calls)
			}
			if tc.want != nil && !reflect.DeepEqual(calls[len(calls)-len(tc.want):], tc.want) {
				t.Errorf("calls %q, want them to end with %q", calls, tc.want)
			}
		})
	}
}

func TestPartitionInjectAndRecoverRunInTheNode(t *testing.T) {
	nodes := &fakeTopology{}
	f, err := NewPartition(nodes, "cp2", testPeers, PartitionBoth)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, step := range []func(context.Context) error{f.Inject, f.Inject, f.Recover, f.Recover} {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"cp2: sh -c " + partitionScript(testPeers, PartitionBoth),
		"cp2: sh -c " + partitionScript(testPeers, PartitionBoth),
		"cp2: sh -c " + unpartitionScript(),
		"cp2: sh -c " + unpartitionScript(),
	}
	if !reflect.DeepEqual(nodes.commands, want) {
		t.Errorf("commands %q\nwant %q", nodes.commands, want)
	}
}

func TestPartitionErrorsNameTheNode(t *testing.T) {
	f, err := NewPartition(&fakeTopology{fail: true}, "cp2", testPeers, PartitionOutbound)
	if err != nil {
		t.Fatal(err)
	}
	for name, step := range map[string]func(context.Context) error{"Inject": f.Inject, "Recover": f.Recover} {
		if err := step(context.Background()); err == nil || !strings.Contains(err.Error(), "cp2") {
			t.Errorf("%s error %v does not name cp2", name, err)
		}
	}
}

func TestPartitionRecordRebuildsTheSameFault(t *testing.T) {
	nodes := &fakeTopology{}
	for _, dir := range []PartitionDirection{PartitionBoth, PartitionInbound, PartitionOutbound} {
		f, err := NewPartition(nodes, "cp1", testPeers, dir)
		if err != nil {
			t.Fatal(err)
		}
		rebuilt, err := Rebuild(nodes, f.Record())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rebuilt, f) {
			t.Errorf("%s: rebuilt %+v, want %+v", dir, rebuilt, f)
		}
	}
}

func TestNewPartitionNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		node  string
		peers []string
		dir   PartitionDirection
		want  string
	}{
		{"", testPeers, PartitionBoth, "Node"},
		{"cp1", nil, PartitionBoth, "Peers is empty"},
		{"cp1", []string{"172.18.0.3", "cp2"}, PartitionBoth, `Peers[1] "cp2"`},
		{"cp1", []string{"fc00::3"}, PartitionBoth, `Peers[0] "fc00::3" is not an IPv4`},
		{"cp1", []string{"172.18.0.3; reboot"}, PartitionBoth, "Peers[0]"},
		{"cp1", testPeers, "sideways", `Direction "sideways"`},
	} {
		_, err := NewPartition(&fakeTopology{}, tc.node, tc.peers, tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPartition(%q, %q, %q) error %v, want it to mention %q", tc.node, tc.peers, tc.dir, err, tc.want)
		}
	}
}

func TestPartitionInjectRefusesAnUnvalidatedFault(t *testing.T) {
	nodes := &fakeTopology{}
	f := Partition{nodes: nodes, Node: "cp1", Peers: []string{"$(reboot)"}, Direction: PartitionBoth}
	if err := f.Inject(context.Background()); err == nil || len(nodes.commands) != 0 {
		t.Fatalf("Inject of a bad peer: err %v, commands %q; want an error and no command", err, nodes.commands)
	}
}

func TestControlPlanePeers(t *testing.T) {
	nodes := &fakeTopology{nodes: []topology.Node{
		{Name: "cp1", Role: topology.RoleControlPlane, IP: "172.18.0.2"},
		{Name: "cp2", Role: topology.RoleControlPlane, IP: "172.18.0.3"},
		{Name: "cp3", Role: topology.RoleControlPlane, IP: "172.18.0.4"},
		{Name: "lb", Role: topology.RoleLoadBalancer, IP: "172.18.0.5"},
		{Name: "etcd1", Role: topology.RoleEtcd, IP: "172.18.0.6"},
		{Name: "w1", Role: topology.RoleWorker, IP: "172.18.0.7"},
	}}
	ctx := context.Background()
	got, err := ControlPlanePeers(ctx, nodes, "cp2", false)
	if want := []string{"172.18.0.2", "172.18.0.4"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("without LB: %q, %v; want %q", got, err, want)
	}
	got, err = ControlPlanePeers(ctx, nodes, "cp2", true)
	if want := []string{"172.18.0.2", "172.18.0.4", "172.18.0.5"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("with LB: %q, %v; want %q", got, err, want)
	}
	if _, err := ControlPlanePeers(ctx, nodes, "w1", true); err == nil || !strings.Contains(err.Error(), "not a control-plane node") {
		t.Errorf("peers of a worker: error %v", err)
	}
	alone := &fakeTopology{nodes: nodes.nodes[:1]}
	if _, err := ControlPlanePeers(ctx, alone, "cp1", false); err == nil {
		t.Error("peers of the only control plane: no error")
	}
}

func TestHarnessChainsListsOnlyTheHarnessChains(t *testing.T) {
	nodes := &fakeTopology{outputs: map[string]string{"iptables -w -S": `-P INPUT ACCEPT
-P OUTPUT ACCEPT
-N KUBE-FIREWALL
-N HACHAOS-PARTITION
-N HACHAOS-OTHER
-A INPUT -j HACHAOS-PARTITION
-A HACHAOS-PARTITION -s 172.18.0.3/32 -j DROP
`}}
	got, err := HarnessChains(context.Background(), nodes, "cp1")
	if want := []string{"HACHAOS-PARTITION", "HACHAOS-OTHER"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("HarnessChains = %q, %v; want %q", got, err, want)
	}
	if !reflect.DeepEqual(nodes.commands, []string{"cp1: iptables -w -S"}) {
		t.Errorf("commands %q", nodes.commands)
	}
	if _, err := HarnessChains(context.Background(), &fakeTopology{fail: true}, "cp1"); err == nil {
		t.Error("failed listing: no error")
	}
}
