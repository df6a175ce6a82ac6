package fault

import (
	"context"
	"fmt"
	"strings"
	"time"
)

func init() {
	register(KindLBCheckPath, func(t Topology, r Record) Fault {
		return LBCheckPath{topo: t, LB: r.Target, Path: r.Params["path"]}
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
	topo Topology
	LB   string // the load balancer's container
	Path string
}

// NewLBCheckPath makes HAProxy in container lb check path.
func NewLBCheckPath(t Topology, lb, path string) (LBCheckPath, error) {
	if lb == "" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " |'\"\\") {
		return LBCheckPath{}, fmt.Errorf("lb check path: a load balancer and a plain absolute path are required, got %q and %q", lb, path)
	}
	return LBCheckPath{topo: t, LB: lb, Path: path}, nil
}

// Record implements Fault.
func (f LBCheckPath) Record() Record {
	return Record{Kind: KindLBCheckPath, Target: f.LB, Params: map[string]string{"path": f.Path}}
}

// Inject implements Fault; the edited file is renamed into place, so HAProxy never reads
// half of it.
func (f LBCheckPath) Inject(ctx context.Context) error {
	return shIn(ctx, f.topo, f.LB, fmt.Sprintf(`set -e
[ -f %[2]s ] || cp %[1]s %[2]s
sed 's|^\( *option httpchk GET \).*|\1%[3]s|' %[2]s > %[1]s.new
grep -q 'option httpchk GET %[3]s$' %[1]s.new
mv %[1]s.new %[1]s
kill -USR2 1`, haproxyConfig, haproxyConfigParked, f.Path))
}

// Recover implements Fault; without a parked original there is nothing to undo.
func (f LBCheckPath) Recover(ctx context.Context) error {
	return shIn(ctx, f.topo, f.LB, fmt.Sprintf(`if [ -f %[2]s ]; then cp %[2]s %[1]s.new && mv %[1]s.new %[1]s && rm %[2]s && kill -USR2 1; fi`, haproxyConfig, haproxyConfigParked))
}

// InEffect implements Observable: the configuration checks the path, and HAProxy's
// newest worker started after the sabotage began (it runs the edited configuration).
func (f LBCheckPath) InEffect(ctx context.Context, since time.Time) error {
	if _, err := f.topo.Exec(ctx, f.LB, nil, "grep", "-q", "option httpchk GET "+f.Path+"$", haproxyConfig); err != nil {
		return fmt.Errorf("HAProxy in %s does not check %s: %w", f.LB, f.Path, err)
	}
	return NewestStartedSince(ctx, f.topo, f.LB, "haproxy", since)
}
