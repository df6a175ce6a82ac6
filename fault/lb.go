package fault

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hachaos/hachaos/topology"
)

func init() {
	register(KindLBCheckPath, func(t Topology, r Record) Fault {
		return LBCheckPath{topo: t, LB: r.Target, Path: r.Params["path"], reloaded: &uptimeMark{}}
	})
	register(KindLBNoChecks, func(t Topology, r Record) Fault { return LBNoChecks{topo: t, LB: r.Target, reloaded: &uptimeMark{}} })
	register(KindLBRise, func(t Topology, r Record) Fault {
		rise, _ := strconv.Atoi(r.Params["rise"]) // a bad count fails Inject; Recover needs none
		return LBRise{topo: t, LB: r.Target, Rise: rise, reloaded: &uptimeMark{}}
	})
}

// KindLBCheckPath is the registry key of LBCheckPath.
const KindLBCheckPath = "lb-check-path"

// Where hachaos' HAProxy reads its configuration (written by the provider from the Spec).
const (
	haproxyConfig       = "/usr/local/etc/haproxy/haproxy.cfg"
	haproxyConfigParked = haproxyConfig + ".hachaos-orig"
)

// LBCheckPath is a sabotage of the load balancer: HAProxy health-checks the API servers
// on another path (the negative control of graceful termination checks /healthz, which
// stays 200 while a stopping API server fails /readyz), reloaded in place (master-worker
// SIGUSR2: the worker is replaced, connections keep going). Recover restores the
// original configuration, kept beside it while the sabotage lasts, and reloads again.
type LBCheckPath struct {
	topo     Topology
	LB       string // the load balancer's container
	Path     string
	reloaded *uptimeMark // when the edited configuration was loaded, on the LB's kernel clock
}

// NewLBCheckPath makes HAProxy in container lb check path.
func NewLBCheckPath(t Topology, lb, path string) (LBCheckPath, error) {
	if lb == "" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " |'\"\\") {
		return LBCheckPath{}, fmt.Errorf("lb check path: a load balancer and a plain absolute path are required, got %q and %q", lb, path)
	}
	return LBCheckPath{topo: t, LB: lb, Path: path, reloaded: &uptimeMark{}}, nil
}

// Record implements Fault.
func (f LBCheckPath) Record() Record {
	return Record{Kind: KindLBCheckPath, Target: f.LB, Params: map[string]string{"path": f.Path}}
}

// Needs implements Fault: HAProxy's configuration rewritten.
func (f LBCheckPath) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityLBConfig}
}

// Inject implements Fault.
func (f LBCheckPath) Inject(ctx context.Context) error {
	return editHAProxyConfig(ctx, f.topo, f.LB, fmt.Sprintf(`-e 's|^\( *option httpchk GET \).*|\1%s|'`, f.Path), fmt.Sprintf(`grep -q 'option httpchk GET %s$'`, f.Path), f.reloaded)
}

// Recover implements Fault.
func (f LBCheckPath) Recover(ctx context.Context) error {
	return restoreHAProxyConfig(ctx, f.topo, f.LB)
}

// InEffect implements Observable: the configuration checks the path, and HAProxy's
// newest worker started after the sabotage began (it runs the edited configuration).
func (f LBCheckPath) InEffect(ctx context.Context, since time.Time) error {
	if _, err := f.topo.Exec(ctx, f.LB, nil, "grep", "-q", "option httpchk GET "+f.Path+"$", haproxyConfig); err != nil {
		return fmt.Errorf("HAProxy in %s does not check %s: %w", f.LB, f.Path, err)
	}
	return reloadedWorker(ctx, f.topo, f.LB, f.reloaded, since)
}

// KindLBNoChecks is the registry key of LBNoChecks.
const KindLBNoChecks = "lb-no-checks"

// LBNoChecks is a sabotage of the load balancer: HAProxy without health checks and
// without redispatch, reloaded in place, so a dead or frozen API server stays in rotation
// (the negative control of LB rerouting, on the running topology: it used to need a
// cluster of its own). Recover restores the original configuration and reloads.
type LBNoChecks struct {
	topo     Topology
	LB       string      // the load balancer's container
	reloaded *uptimeMark // when the edited configuration was loaded, on the LB's kernel clock
}

// NewLBNoChecks turns off HAProxy's health checks in container lb.
func NewLBNoChecks(t Topology, lb string) (LBNoChecks, error) {
	if lb == "" {
		return LBNoChecks{}, fmt.Errorf("lb no checks: a load balancer is required")
	}
	return LBNoChecks{topo: t, LB: lb, reloaded: &uptimeMark{}}, nil
}

// Record implements Fault.
func (f LBNoChecks) Record() Record { return Record{Kind: KindLBNoChecks, Target: f.LB} }

// Needs implements Fault: HAProxy's configuration rewritten.
func (f LBNoChecks) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityLBConfig}
}

// serverChecked matches a server line that still has a health check.
const serverChecked = `'^ *server .* check'`

// Inject implements Fault.
func (f LBNoChecks) Inject(ctx context.Context) error {
	return editHAProxyConfig(ctx, f.topo, f.LB, `-e 's| check check-ssl verify none$||' -e '/option redispatch/d'`, "! grep -q "+serverChecked, f.reloaded)
}

// Recover implements Fault.
func (f LBNoChecks) Recover(ctx context.Context) error {
	return restoreHAProxyConfig(ctx, f.topo, f.LB)
}

// InEffect implements Observable: no server line has a check, and HAProxy's newest
// worker started after the sabotage began.
func (f LBNoChecks) InEffect(ctx context.Context, since time.Time) error {
	if _, err := f.topo.Exec(ctx, f.LB, nil, "sh", "-c", "! grep -q "+serverChecked+" "+haproxyConfig); err != nil {
		return fmt.Errorf("HAProxy in %s still health-checks its servers: %w", f.LB, err)
	}
	return reloadedWorker(ctx, f.topo, f.LB, f.reloaded, since)
}

// KindLBRise is the registry key of LBRise.
const KindLBRise = "lb-rise"

// LBRise is a sabotage of the load balancer: HAProxy needs Rise consecutive good checks
// before it takes a server back in rotation (every server's "rise"), reloaded in place
// — the negative control of the rise window: a recovered API server stays out of
// rotation longer than the Spec's settings allow. Recover restores the original
// configuration and reloads.
type LBRise struct {
	topo     Topology
	LB       string // the load balancer's container
	Rise     int
	reloaded *uptimeMark // when the edited configuration was loaded, on the LB's kernel clock
}

// NewLBRise sets HAProxy's rise to rise in container lb.
func NewLBRise(t Topology, lb string, rise int) (LBRise, error) {
	if lb == "" || rise < 1 {
		return LBRise{}, fmt.Errorf("lb rise: a load balancer and a rise of at least 1 are required, got %q and %d", lb, rise)
	}
	return LBRise{topo: t, LB: lb, Rise: rise, reloaded: &uptimeMark{}}, nil
}

// Record implements Fault.
func (f LBRise) Record() Record {
	return Record{Kind: KindLBRise, Target: f.LB, Params: map[string]string{"rise": strconv.Itoa(f.Rise)}}
}

// Needs implements Fault: HAProxy's configuration rewritten.
func (f LBRise) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityLBConfig}
}

// riseSet matches the default-server line with the sabotaged rise.
func (f LBRise) riseSet() string { return fmt.Sprintf(`'^ *default-server .* rise %d\b'`, f.Rise) }

// Inject implements Fault.
func (f LBRise) Inject(ctx context.Context) error {
	if f.Rise < 1 {
		return fmt.Errorf("lb rise: %d is not a count of checks", f.Rise)
	}
	return editHAProxyConfig(ctx, f.topo, f.LB, fmt.Sprintf(`-e '/^ *default-server/s| rise [0-9]*| rise %d|'`, f.Rise), "grep -q "+f.riseSet(), f.reloaded)
}

// Recover implements Fault.
func (f LBRise) Recover(ctx context.Context) error {
	return restoreHAProxyConfig(ctx, f.topo, f.LB)
}

// InEffect implements Observable: the servers' defaults have the rise, and HAProxy's
// newest worker started after the sabotage began.
func (f LBRise) InEffect(ctx context.Context, since time.Time) error {
	if _, err := f.topo.Exec(ctx, f.LB, nil, "sh", "-c", "grep -q "+f.riseSet()+" "+haproxyConfig); err != nil {
		return fmt.Errorf("HAProxy in %s does not run with rise %d: %w", f.LB, f.Rise, err)
	}
	return reloadedWorker(ctx, f.topo, f.LB, f.reloaded, since)
}

// reloadedWorker is nil when HAProxy's newest worker in lb started at or after the reload
// the edit recorded (mark), both read on lb's kernel clock: no command latency enters,
// as it did when the worker's age was held against the time since the sabotage began.
// Without a mark (an edit that never ran) it falls back to that comparison with since.
func reloadedWorker(ctx context.Context, t Topology, lb string, mark *uptimeMark, since time.Time) error {
	ticks, ok := mark.get()
	if !ok {
		return NewestStartedSince(ctx, t, lb, "haproxy", since)
	}
	return newestStartedAtTick(ctx, t, lb, "haproxy", ticks)
}

// editHAProxyConfig applies sed to the original configuration (parked beside it while a
// sabotage lasts), checks the result with verify (a shell test reading the file last),
// renames it into place — HAProxy never reads half of it — and reloads HAProxy in place
// (master-worker SIGUSR2: the worker is replaced, connections keep going).
func editHAProxyConfig(ctx context.Context, t Topology, lb, sed, verify string, reloaded *uptimeMark) error {
	out, err := t.Exec(ctx, lb, nil, "sh", "-c", fmt.Sprintf(`set -e
[ -f %[2]s ] || cp %[1]s %[2]s
sed %[3]s %[2]s > %[1]s.new
%[4]s %[1]s.new
mv %[1]s.new %[1]s
cut -d' ' -f1 /proc/uptime
kill -USR2 1`, haproxyConfig, haproxyConfigParked, sed, verify))
	if err != nil {
		return fmt.Errorf("on %s: %w", lb, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return fmt.Errorf("on %s: the edit printed no uptime", lb)
	}
	return reloaded.setUptime(lines[len(lines)-1])
}

// restoreHAProxyConfig puts the parked original back and reloads; without one there is
// nothing to undo.
func restoreHAProxyConfig(ctx context.Context, t Topology, lb string) error {
	return shIn(ctx, t, lb, fmt.Sprintf(`if [ -f %[2]s ]; then cp %[2]s %[1]s.new && mv %[1]s.new %[1]s && rm %[2]s && kill -USR2 1; fi`, haproxyConfig, haproxyConfigParked))
}
