package rolling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// lbProvider is a topology with one control plane "cp1" behind hachaos' HAProxy: the
// runtime commands sent into the LB's container are recorded (and answer "show stat"
// from the server's state), its stats socket and the API server are local test servers.
type lbProvider struct {
	cluster.Provider
	ledger   string
	api      *httptest.Server
	stats    net.Listener
	mu       sync.Mutex
	state    string // "MAINT" or "UP": what HAProxy shows for cp1
	commands []string
}

func (p *lbProvider) Nodes(_ context.Context, role topology.Role) ([]topology.Node, error) {
	if role == topology.RoleLoadBalancer {
		return []topology.Node{{Name: "lb", Role: role}}, nil
	}
	return []topology.Node{{Name: "cp1", Role: topology.RoleControlPlane}}, nil
}

func (p *lbProvider) Exec(_ context.Context, node string, _ io.Reader, cmd ...string) ([]byte, error) {
	command := cmd[len(cmd)-1]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.commands = append(p.commands, node+": "+command)
	switch {
	case strings.HasSuffix(command, "state maint"):
		p.state = "MAINT"
	case strings.HasSuffix(command, "state ready"):
		p.state = "UP"
	case command == "show stat":
		return []byte(p.showStat()), nil
	}
	return nil, nil
}

func (p *lbProvider) showStat() string {
	return "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n" +
		"kube-apiservers,cp1,0,0,0,0,,1,0,0,,0,,0,0,0,0," + p.state + "\n"
}

func (p *lbProvider) LedgerPath() string               { return p.ledger }
func (p *lbProvider) KubeconfigPath() string           { return "" }
func (p *lbProvider) Lock() (unlock func(), err error) { return func() {}, nil }

func (p *lbProvider) APIServerConfigs(context.Context) (map[string]*rest.Config, error) {
	return map[string]*rest.Config{"cp1": {Host: p.api.URL}}, nil
}

func (p *lbProvider) LoadBalancer(context.Context) (cluster.LoadBalancerAccess, error) {
	return cluster.LoadBalancerAccess{StatsAddress: p.stats.Addr().String()}, nil
}

// serveStats answers every connection to the fake stats socket with show stat.
func (p *lbProvider) serveStats() {
	for {
		c, err := p.stats.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		out := p.showStat()
		p.mu.Unlock()
		_, _ = io.WriteString(c, out)
		c.Close()
	}
}

// newLBProvider serves the API server's read (or 503 when serving is false).
func newLBProvider(t *testing.T, serving bool) *lbProvider {
	p := &lbProvider{ledger: filepath.Join(t.TempDir(), "faults.json"), state: "UP"}
	p.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !serving || r.URL.Path != "/api/v1/namespaces/default" {
			http.Error(w, "etcd not reachable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"default"}}`)
	}))
	t.Cleanup(p.api.Close)
	var err error
	if p.stats, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stats.Close() })
	go p.serveStats()
	return p
}

func rotationInput(p *lbProvider) Input {
	spec := topology.Default()
	spec.Waits.ComponentRestart.Duration = 2 * time.Second
	spec.Waits.Poll.Duration = 200 * time.Millisecond
	return Input{Spec: spec, Provider: p, Progress: func(string, ...any) {}, Steps: &Steps{}}
}

// The control plane is out of rotation while the steps run, and back in once it serves
// a read; when the steps fail, or it never serves, it is put back all the same and the
// error says why.
func TestOutOfRotationAroundTheStepsAndBackOnceServing(t *testing.T) {
	p := newLBProvider(t, true)
	var during string
	err := rotationInput(p).outOfRotation(context.Background(), "cp1", func() error {
		during = p.state
		return nil
	})
	if err != nil || during != "MAINT" || p.state != "UP" {
		t.Fatalf("err %v; during the steps %s, after %s: want MAINT, then UP", err, during, p.state)
	}
	if got := strings.Join(p.commands, "\n"); !strings.Contains(got, "lb: set server kube-apiservers/cp1 state maint") || !strings.Contains(got, "lb: set server kube-apiservers/cp1 state ready") {
		t.Errorf("runtime commands:\n%s", got)
	}

	p = newLBProvider(t, true)
	err = rotationInput(p).outOfRotation(context.Background(), "cp1", func() error { return errors.New("kubeadm failed") })
	if err == nil || !strings.Contains(err.Error(), "kubeadm failed") || p.state != "UP" {
		t.Errorf("failed steps: err %v, state %s; want the error and the server back", err, p.state)
	}

	p = newLBProvider(t, false)
	err = rotationInput(p).outOfRotation(context.Background(), "cp1", func() error { return nil })
	if err == nil || !strings.Contains(err.Error(), "served no read") || p.state != "UP" {
		t.Errorf("never serving: err %v, state %s; want 'served no read' and the server back for its health checks to judge", err, p.state)
	}
}

// With one control plane there is no other server to send clients to: it stays in
// rotation and the steps run as they are.
func TestOneControlPlaneStaysInRotation(t *testing.T) {
	p := newLBProvider(t, true)
	in := rotationInput(p)
	in.Spec.ControlPlanes = 1
	ran := false
	if err := in.outOfRotation(context.Background(), "cp1", func() error { ran = true; return nil }); err != nil || !ran || len(p.commands) != 0 {
		t.Errorf("err %v, ran %v, runtime commands %v: want the steps run and no command", err, ran, p.commands)
	}
}
