package kind

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/hachaos/hachaos/topology"
)

func TestKindConfigHasTheSpecsNodesAndTimeouts(t *testing.T) {
	spec := topology.Default()
	cfg, err := kindConfig(spec, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	roles := map[v1alpha4.NodeRole]int{}
	for _, n := range cfg.Nodes {
		roles[n.Role]++
		if n.Image != "hachaos/node:v1.37.2" {
			t.Errorf("node image %q", n.Image)
		}
	}
	if roles[v1alpha4.ControlPlaneRole] != 3 || roles[v1alpha4.WorkerRole] != 2 {
		t.Errorf("roles %v, want 3 control planes and 2 workers", roles)
	}
	var ops []struct {
		Path  string
		Value json.RawMessage
	}
	if err := json.Unmarshal([]byte(cfg.KubeadmConfigPatchesJSON6902[0].Patch), &ops); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, op := range ops {
		var one arg
		var list []arg
		if json.Unmarshal(op.Value, &one) == nil {
			list = []arg{one}
		} else if err := json.Unmarshal(op.Value, &list); err != nil {
			t.Fatalf("op value %s: %v", op.Value, err)
		}
		for _, a := range list {
			got[op.Path+"|"+a.Name] = a.Value
		}
	}
	timeouts := spec.ResolvedTimeouts()
	want := map[string]string{
		"/scheduler/extraArgs|leader-elect-lease-duration":              timeouts.Scheduler.LeaseDuration.Duration.String(),
		"/controllerManager/extraArgs/-|node-monitor-grace-period":      timeouts.NodeMonitorGracePeriod.Duration.String(),
		"/apiServer/extraArgs/-|default-unreachable-toleration-seconds": "15",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, want := range []string{"failCgroupV1: false", "crashLoopBackOff:\n  maxContainerRestartPeriod: " + timeouts.MaxContainerRestartPeriod.Duration.String()} {
		if !strings.Contains(cfg.KubeadmConfigPatches[0], want) {
			t.Errorf("kubelet patch lacks %q: %s", want, cfg.KubeadmConfigPatches[0])
		}
	}
}

func TestKindConfigWiresExternalEtcdIntoEveryControlPlane(t *testing.T) {
	spec := topology.Default()
	spec.Etcd.Mode = topology.EtcdExternal
	endpoints := []string{"https://172.29.0.250:2379", "https://172.29.0.249:2379", "https://172.29.0.248:2379"}
	cfg, err := kindConfig(spec, endpoints, "/state/pki")
	if err != nil {
		t.Fatal(err)
	}
	patch := cfg.KubeadmConfigPatches[len(cfg.KubeadmConfigPatches)-1]
	for _, e := range endpoints {
		if !strings.Contains(patch, e) {
			t.Errorf("etcd patch lacks endpoint %s:\n%s", e, patch)
		}
	}
	mounts := 0
	for i, n := range cfg.Nodes {
		if n.Role == v1alpha4.WorkerRole && len(n.ExtraMounts) > 0 {
			t.Errorf("worker %d gets etcd mounts", i)
		}
		mounts += len(n.ExtraMounts)
	}
	// client certificate on every control plane, kind's CA copy only on the first
	if mounts != 3+1 {
		t.Errorf("%d mounts, want 4", mounts)
	}
}

func TestRenderHAProxyUsesTheSpecsChecks(t *testing.T) {
	lb := topology.Default().LoadBalancer
	cfg, err := renderHAProxy(lb, []string{"c-control-plane", "c-control-plane2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"option httpchk GET /readyz",
		"inter 1000ms fastinter 250ms downinter 1000ms fall 2 rise 1 on-marked-down shutdown-sessions",
		"timeout check 500ms",
		"option redispatch 1",
		"server c-control-plane2 c-control-plane2:6443 check check-ssl verify none",
		"stats socket ipv4@0.0.0.0:8404",
	} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("haproxy.cfg lacks %q:\n%s", want, cfg)
		}
	}
	lb.Redispatch, lb.ShutdownSessionsOnDown = false, false
	cfg, _ = renderHAProxy(lb, []string{"x"})
	if strings.Contains(string(cfg), "redispatch") || strings.Contains(string(cfg), "shutdown-sessions") {
		t.Errorf("disabled options still rendered:\n%s", cfg)
	}
	// fault.LBNoChecks removes exactly this suffix
	if !strings.Contains(string(cfg), "server x x:6443 check check-ssl verify none\n") {
		t.Errorf("a server line does not end in the health check the LB sabotage removes:\n%s", cfg)
	}
}

func TestPickFreeSubnetSkipsUsedRanges(t *testing.T) {
	used := []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16"), netip.MustParsePrefix("172.29.0.0/24"), {}}
	got, err := pickFreeSubnet(used)
	if err != nil || got.String() != "172.29.1.0/24" {
		t.Fatalf("got %v, %v; want 172.29.1.0/24", got, err)
	}
	if _, err := pickFreeSubnet([]netip.Prefix{netip.MustParsePrefix("172.29.0.0/16")}); err == nil {
		t.Fatal("want an error when 172.29.0.0/16 is taken")
	}
	if a := fixedAddress(got, 2); a.String() != "172.29.1.248" {
		t.Errorf("fixedAddress = %s", a)
	}
}
