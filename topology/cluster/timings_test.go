package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestProcessScriptPicksTheNodesOwnMember starts two processes named etcd on this
// machine — a member named after the node and, newer, a store named otherwise, as
// fault.SeparateEtcd runs beside a stacked member — and checks that the script reads the
// member's command line, not the newest etcd's.
func TestProcessScriptPicksTheNodesOwnMember(t *testing.T) {
	node := fmt.Sprintf("hachaos-test-node-%d", os.Getpid())
	start := func(name string) {
		// bash -c with a second command is not replaced by sleep, so the process keeps
		// argv[0] "etcd" and its --name argument.
		cmd := exec.Command("bash", "-c", `exec -a etcd bash -c 'sleep 30; :' --name=`+name)
		if err := cmd.Start(); err != nil {
			t.Skipf("bash not available: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	start(node)
	start(node + "-separate-store")
	var out []byte
	var err error
	for range 50 { // the processes need a moment to exec
		if out, err = exec.Command("sh", "-c", processScript("etcd", node)).Output(); err == nil && strings.Contains(string(out), "--name=") {
			break
		}
		_ = exec.Command("sleep", "0.1").Run()
	}
	if err != nil {
		t.Fatalf("script failed: %v", err)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "--name="+node) {
		t.Errorf("read %q, want the member named %s", got, node)
	}
}
