package existing

import (
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/topology"
)

// providerOn is a provider of an existing cluster made of objs, behind lb.
func providerOn(t *testing.T, etcdServers string, stacked bool) *Provider {
	t.Helper()
	spec := topology.Default()
	spec.Provider, spec.Kubeconfig, spec.IsolatedNodeCPUs = topology.ProviderExisting, "/dev/null", 0
	spec.LoadBalancer.StatsAddress = "10.0.0.100:8404"
	client := fake.NewClientset(kubeadmCluster(etcdServers, stacked)...)
	return &Provider{spec: spec, config: &rest.Config{Host: "https://10.0.0.100:6443"}, client: client, agent: NewAgent(client, spec.Agent.Image), progress: t.Logf}
}

// Every node for the empty role (the security suite's probes may reach exactly these),
// each role alone otherwise; external members are nodes of role etcd.
func TestNodesByRole(t *testing.T) {
	p := providerOn(t, "https://10.0.1.1:2379,https://10.0.1.2:2379,https://10.0.1.3:2379", false)
	count := func(role topology.Role) int {
		nodes, err := p.Nodes(context.Background(), role)
		if err != nil {
			t.Fatal(err)
		}
		return len(nodes)
	}
	for role, want := range map[topology.Role]int{"": 8, topology.RoleControlPlane: 3, topology.RoleWorker: 2, topology.RoleEtcd: 3, topology.RoleLoadBalancer: 0} {
		if got := count(role); got != want {
			t.Errorf("Nodes(%q): %d, want %d", role, got, want)
		}
	}
}

// Each API server directly at its node's address and --secure-port (6443 unless set),
// with the kubeconfig's credentials.
func TestAPIServerConfigsBypassTheLoadBalancer(t *testing.T) {
	p := providerOn(t, "https://127.0.0.1:2379", true)
	cfgs, err := p.APIServerConfigs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 3 || cfgs["cp2"] == nil || cfgs["cp2"].Host != "https://10.0.0.2:6443" {
		t.Errorf("API server configurations: %v", cfgs)
	}
}

// hachaos never creates a cluster it is given, and its machines are not its own:
// Create refuses, the machine-level actions fail naming why, NodeState says running.
func TestExistingClusterIsNeverCreatedAndItsMachinesNotTouched(t *testing.T) {
	p := providerOn(t, "https://127.0.0.1:2379", true)
	if err := p.Create(context.Background()); err == nil || !strings.Contains(err.Error(), "does not create clusters") {
		t.Errorf("Create: %v", err)
	}
	if err := p.NodeAction(context.Background(), "w1", topology.NodePause); err == nil {
		t.Error("NodeAction succeeded on a machine hachaos does not run")
	}
	if st, err := p.NodeState(context.Background(), "w1"); err != nil || !st.Running {
		t.Errorf("NodeState(w1): %+v, %v", st, err)
	}
	if _, err := p.NodeState(context.Background(), "elsewhere"); err == nil {
		t.Error("NodeState of a node the cluster does not have")
	}
}
