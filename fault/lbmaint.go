package fault

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindLBServerMaint, func(t Topology, r Record) Fault {
		return LBServerMaint{topo: t, LB: r.Target, Server: r.Params["server"]}
	})
}

// KindLBServerMaint is the registry key of LBServerMaint.
const KindLBServerMaint = "lb-server-maint"

// LBServerMaint takes one API server out of the load balancer's rotation through
// HAProxy's runtime API ("set server … state maint"): HAProxy sends it no new
// connection whatever its health checks say, and with on-marked-down shutdown-sessions
// (the Spec's default) cuts the sessions it has, as a mark-down does — clients
// reconnect to the other servers before anything on this one restarts. Not a failure
// but planned maintenance: an upgrade takes each control plane out of rotation around
// its steps, as operators drain a node from their LB, so that neither its stacked etcd
// member's restart (its API server fails requests until /readyz catches up) nor an API
// server that passes /readyz before it serves again (measured after its member's
// restart: 7 s, 35 failed requests) reaches a client. Recover puts it back: "state
// ready" makes HAProxy count it UP at once (its checks take it out again if they
// fail), so the caller puts it back only once it serves. Through the fault ledger, a
// server left out by an interrupted run is put back by the next one.
type LBServerMaint struct {
	topo   Topology
	LB     string // the load balancer's container
	Server string // the server's name in haproxy.cfg: the control plane's node name
}

// serverName is what a server in hachaos' haproxy.cfg is named: a node's name, a DNS
// label; nothing else reaches the runtime API (a newline would be a second command).
var serverName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// NewLBServerMaint takes server out of rotation in the HAProxy of container lb.
func NewLBServerMaint(t Topology, lb, server string) (LBServerMaint, error) {
	f := LBServerMaint{topo: t, LB: lb, Server: server}
	return f, f.check()
}

func (f LBServerMaint) check() error {
	if f.LB == "" || !serverName.MatchString(f.Server) {
		return fmt.Errorf("lb server maintenance: a load balancer and a node name are required, got %q and %q", f.LB, f.Server)
	}
	return nil
}

// Record implements Fault.
func (f LBServerMaint) Record() Record {
	return Record{Kind: KindLBServerMaint, Target: f.LB, Params: map[string]string{"server": f.Server}}
}

// Needs implements Fault: HAProxy's runtime API.
func (f LBServerMaint) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityLBConfig}
}

// Inject implements Fault.
func (f LBServerMaint) Inject(ctx context.Context) error { return f.setState(ctx, "maint") }

// Recover implements Fault: "state ready", unless HAProxy does not have the server in
// maintenance — an Inject HAProxy refused (a socket without admin level, on a cluster
// created before it had one) leaves nothing to undo, and its ledger entry must clear.
func (f LBServerMaint) Recover(ctx context.Context) error {
	if status, err := f.status(ctx); err == nil && !strings.HasPrefix(status, "MAINT") {
		return nil
	}
	return f.setState(ctx, "ready")
}

// InEffect implements Observable: HAProxy's stats show the server in maintenance.
func (f LBServerMaint) InEffect(ctx context.Context, _ time.Time) error {
	status, err := f.status(ctx)
	if err != nil {
		return err
	}
	if status != "MAINT" {
		return fmt.Errorf("HAProxy in %s still has %s in rotation (%s)", f.LB, f.Server, status)
	}
	return nil
}

// status is the server's status in HAProxy's stats ("UP", "MAINT", …).
func (f LBServerMaint) status(ctx context.Context) (string, error) {
	out, err := f.runtime(ctx, "show stat")
	if err != nil {
		return "", err
	}
	states, err := topology.ParseHAProxyStat(strings.NewReader(out), topology.HAProxyAPIBackend)
	if err != nil {
		return "", err
	}
	for _, s := range states {
		if s.Server == f.Server {
			return s.Status, nil
		}
	}
	return "", fmt.Errorf("HAProxy in %s has no server %s", f.LB, f.Server)
}

// setState sets the server's administrative state; HAProxy answers a command it
// refused (an unknown server, a socket without admin level) with text, a done one with
// nothing.
func (f LBServerMaint) setState(ctx context.Context, state string) error {
	if err := f.check(); err != nil {
		return err
	}
	out, err := f.runtime(ctx, fmt.Sprintf("set server %s/%s state %s", topology.HAProxyAPIBackend, f.Server, state))
	if err != nil {
		return err
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("HAProxy in %s refused to set %s %s: %s", f.LB, f.Server, state, msg)
	}
	return nil
}

// runtime sends one command to the admin socket inside the LB's container (socat, in
// hachaos' HAProxy image) and returns HAProxy's answer.
func (f LBServerMaint) runtime(ctx context.Context, command string) (string, error) {
	script := fmt.Sprintf(`printf '%%s\n' "$1" | socat -t 2 stdio tcp:127.0.0.1:%d`, topology.HAProxyAdminPort)
	out, err := f.topo.Exec(ctx, f.LB, nil, "sh", "-c", script, "sh", command)
	if err != nil {
		return "", fmt.Errorf("HAProxy runtime API in %s (%s): %w", f.LB, command, err)
	}
	return string(out), nil
}
