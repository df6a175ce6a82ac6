package topology

import (
	"fmt"
	"time"
)

// Profile names accepted by Profile and Spec.Profile.
const (
	// ProfileFast is tuned so the suites run quickly on a 2-core machine without false
	// failovers. It is the default.
	ProfileFast = "fast"
	// ProfileUpstream is the Kubernetes v1.37 defaults.
	ProfileUpstream = "upstream"
)

// LeaderElection holds the leader-election timing of kube-scheduler or
// kube-controller-manager (client-go's leaderelection package). Valid values keep
// LeaseDuration > RenewDeadline > 1.2 × RetryPeriod (client-go's JitterFactor), the
// rules client-go's NewLeaderElector enforces.
type LeaderElection struct {
	// LeaseDuration is --leader-elect-lease-duration: how long a standby waits, after it
	// last saw the lease change, before it takes leadership.
	LeaseDuration Duration `json:"leaseDuration"`
	// RenewDeadline is --leader-elect-renew-deadline: how long the leader keeps trying to
	// renew before it gives up leadership (the component then exits).
	RenewDeadline Duration `json:"renewDeadline"`
	// RetryPeriod is --leader-elect-retry-period: the time between attempts to acquire or
	// renew.
	RetryPeriod Duration `json:"retryPeriod"`
}

// Timeouts holds the values that guarantees depend on. In a Spec it holds overrides of
// the profile (a zero field keeps the profile's value); Profile and
// Spec.ResolvedTimeouts return complete sets.
type Timeouts struct {
	// Scheduler is kube-scheduler's leader election.
	Scheduler LeaderElection `json:"scheduler"`
	// ControllerManager is kube-controller-manager's leader election.
	ControllerManager LeaderElection `json:"controllerManager"`
	// NodeMonitorGracePeriod is kube-controller-manager --node-monitor-grace-period: how
	// long a node may go without renewing its Lease or posting status before it is
	// marked Unknown (NotReady) and tainted.
	NodeMonitorGracePeriod Duration `json:"nodeMonitorGracePeriod"`
	// NodeMonitorPeriod is kube-controller-manager --node-monitor-period: how often the
	// node lifecycle controller checks node health.
	NodeMonitorPeriod Duration `json:"nodeMonitorPeriod"`
	// NodeStatusUpdateFrequency is the kubelet's nodeStatusUpdateFrequency: how often it
	// computes node status (posted when it changed), and the timeout of its heartbeat
	// requests.
	NodeStatusUpdateFrequency Duration `json:"nodeStatusUpdateFrequency"`
	// NodeLeaseDurationSeconds is the kubelet's nodeLeaseDurationSeconds; the kubelet
	// renews its node Lease every quarter of it.
	NodeLeaseDurationSeconds int `json:"nodeLeaseDurationSeconds"`
	// NotReadyTolerationSeconds is kube-apiserver --default-not-ready-toleration-seconds:
	// how long pods (without their own toleration) stay on a NotReady node before eviction.
	NotReadyTolerationSeconds int `json:"notReadyTolerationSeconds"`
	// UnreachableTolerationSeconds is kube-apiserver
	// --default-unreachable-toleration-seconds: the same for an unreachable node.
	UnreachableTolerationSeconds int `json:"unreachableTolerationSeconds"`
	// APIServerShutdownDelay is kube-apiserver --shutdown-delay-duration: after SIGTERM
	// the server fails /readyz but keeps serving this long before it stops accepting
	// requests, so a load balancer checking /readyz takes it out of rotation first and
	// no client request fails (a graceful stop, as a rolling restart or upgrade does).
	// 0 = stop serving at once. With HAProxy it must exceed the LB's detection window.
	APIServerShutdownDelay Duration `json:"apiServerShutdownDelay"`
	// MaxContainerRestartPeriod is the kubelet's crashLoopBackOff.maxContainerRestartPeriod
	// (KEP-4603, beta and on by default since v1.35): the longest the kubelet waits
	// before restarting a container that exited again, its crash-loop back-off's cap
	// (1s to 300s).
	MaxContainerRestartPeriod Duration `json:"maxContainerRestartPeriod"`
}

// Profile returns the complete timeouts of a named profile: "fast" or "upstream".
func Profile(name string) (Timeouts, error) {
	switch name {
	case ProfileFast:
		return fastTimeouts(), nil
	case ProfileUpstream:
		return upstreamTimeouts(), nil
	}
	return Timeouts{}, fmt.Errorf("unknown profile %q (want %s or %s)", name, ProfileFast, ProfileUpstream)
}

// upstreamTimeouts are the Kubernetes v1.37 defaults; each line names where it is set.
func upstreamTimeouts() Timeouts {
	// k8s.io/component-base/config/v1alpha1/defaults.go,
	// RecommendedDefaultLeaderElectionConfiguration: 15s / 10s / 2s, used by both
	// kube-scheduler and kube-controller-manager.
	le := LeaderElection{
		LeaseDuration: dur(15 * time.Second),
		RenewDeadline: dur(10 * time.Second),
		RetryPeriod:   dur(2 * time.Second),
	}
	return Timeouts{
		Scheduler:         le,
		ControllerManager: le,
		// pkg/controller/nodelifecycle/config/v1alpha1/defaults.go; 50s since v1.32
		// (kubernetes/kubernetes#126287, was 40s).
		NodeMonitorGracePeriod: dur(50 * time.Second),
		// pkg/controller/apis/config/v1alpha1/defaults.go,
		// SetDefaults_KubeCloudSharedConfiguration.
		NodeMonitorPeriod: dur(5 * time.Second),
		// pkg/kubelet/apis/config/v1beta1/defaults.go, SetDefaults_KubeletConfiguration
		// (both kubelet values).
		NodeStatusUpdateFrequency: dur(10 * time.Second),
		NodeLeaseDurationSeconds:  40,
		// plugin/pkg/admission/defaulttolerationseconds/admission.go, flag defaults
		// (both tolerations).
		NotReadyTolerationSeconds:    300,
		UnreachableTolerationSeconds: 300,
		// staging/src/k8s.io/apiserver/pkg/server/options/server_run_options.go:
		// ShutdownDelayDuration defaults to 0 (kind and kubeadm set none).
		APIServerShutdownDelay: dur(0),
		// pkg/kubelet/kubelet.go, MaxContainerBackOff: 300s (the back-off doubles from
		// 10s: 10, 20, 40, 80, 160, 300).
		MaxContainerRestartPeriod: dur(300 * time.Second),
	}
}

// fastTimeouts are tuned so the suites run quickly on a 2-core machine without false
// failovers; each value says why it is safe.
func fastTimeouts() Timeouts {
	// Same for kube-scheduler and kube-controller-manager. Both talk to the API server on
	// their own node (kubeadm's scheduler.conf / controller-manager.conf), so the load
	// balancer's detection time plays no part; if that API server dies, losing leadership
	// is a real failover, not a false one.
	le := LeaderElection{
		// 6s > RenewDeadline + RetryPeriod (5s): the leader gives up at the latest
		// RetryPeriod+RenewDeadline after its last successful renewal, while a standby
		// waits a full LeaseDuration after it saw that renewal (on its own clock, so skew
		// does not matter). So two leaders never overlap. A standby polls every
		// RetryPeriod..2.2×RetryPeriod (jitter), so a dead leader is replaced within
		// LeaseDuration + 2 × 2.2 × RetryPeriod = 10.4s (upstream 23.8s).
		LeaseDuration: dur(6 * time.Second),
		// 4s leaves room for 4 renewal attempts, 1s apart: one request that is slow
		// under load (Lease updates take milliseconds, ~1s at worst when etcd fsyncs
		// contend on 2 cores) or that fails does not cost leadership. It is above
		// 1.2*RetryPeriod (client-go's JitterFactor rule).
		RenewDeadline: dur(4 * time.Second),
		// 1s: one GET + one UPDATE of a Lease per component per second; with 3 control
		// planes and 2 components that is a negligible load on the API servers.
		RetryPeriod: dur(time.Second),
	}
	return Timeouts{
		Scheduler:         le,
		ControllerManager: le,
		// 20s is 4 Lease renew intervals (NodeLeaseDurationSeconds/4 = 5s), so three
		// consecutive renewals can be lost before a node is falsely marked NotReady. It
		// is also 5 × NodeStatusUpdateFrequency, the rule of the flag's help text ("N
		// times more than nodeStatusUpdateFrequency, where N means number of retries
		// allowed for kubelet to post node status", the kubelet's nodeStatusUpdateRetry
		// is 5). Upstream raised its default to 50s (kubernetes/kubernetes#121793)
		// because a kubelet's connection to a dead API server could stay open ~45s
		// (HTTP/2 health checking); through our HAProxy it cannot: with
		// shutdownSessionsOnDown, the kubelet's connection is closed once the server
		// is marked DOWN, within LoadBalancer.DetectionWindow() (3.25s by default), and
		// the kubelet redials to a live one. With loadBalancer.type kind or
		// shutdownSessionsOnDown false, prefer the upstream profile. A kubelet that
		// talks to its own node's API server instead (kubeadm's
		// ControlPlaneKubeletLocalMode) loses its heartbeats with it: a fault on that
		// API server longer than 20s marks the node NotReady, as upstream after 50s.
		NodeMonitorGracePeriod: dur(20 * time.Second),
		// 2s: a failed node is noticed at most 2s after the grace period ends (22s in
		// all). A pass reads the handful of nodes from the informer cache; it is cheap.
		NodeMonitorPeriod: dur(2 * time.Second),
		// 4s: a fifth of the grace period (see above). It is also the kubelet's heartbeat
		// request timeout, shorter than the 5s renew interval, so a renewal that hangs
		// is abandoned before the next one is due.
		NodeStatusUpdateFrequency: dur(4 * time.Second),
		// 20s: the kubelet renews every 20/4 = 5s, 4 times within the grace period. The
		// node lifecycle controller judges by NodeMonitorGracePeriod, not by this value,
		// so its only effect is the renew interval: one small Lease update per node
		// every 5s.
		NodeLeaseDurationSeconds: 20,
		// 15s: these only start once a node has already been declared NotReady or
		// unreachable (after the 20s grace period, which is what guards against false
		// failures), so pods of a failed node are evicted ~35s after it failed instead
		// of ~5.8 min. A blip shorter than 15s after the taint still keeps its pods.
		NotReadyTolerationSeconds:    15,
		UnreachableTolerationSeconds: 15,
		// 5s: longer than the LB's detection window (3.25s with the default
		// loadBalancer settings), so HAProxy has marked a stopping server DOWN before it
		// stops serving; the 1.75s beyond it cover a health check answered late on a busy
		// machine. Well inside the static Pod's 30s termination grace period, and every
		// stop of an API server (rolling restart, upgrade, the stop faults) takes only
		// 5s longer.
		APIServerShutdownDelay: dur(5 * time.Second),
		// 10s, the back-off's first step: every fault that kills a component (a Lease
		// holder, an etcd member, a partitioned node's controllers) makes the kubelet
		// count a crash, and the count is forgotten only after 10 minutes of running. A
		// soak or repeated trials kill the same components again and again, so with the
		// 300s cap a component came back up to 5 minutes after a fault that lasted
		// seconds, and the readiness gate measured the kubelet's back-off, not the HA
		// failover (a 20-minute soak spent 4 minutes at a time waiting for one
		// scheduler). A real crash loop still shows: a component that exits again is
		// restarted every 10s, not at once.
		MaxContainerRestartPeriod: dur(10 * time.Second),
	}
}

// ResolvedTimeouts returns the profile's timeouts with every non-zero field of
// s.Timeouts applied over them, field by field. An unknown profile (rejected by
// Validate) resolves from zero values.
func (s Spec) ResolvedTimeouts() Timeouts {
	base, _ := Profile(s.Profile)
	o := s.Timeouts
	return Timeouts{
		Scheduler:                    base.Scheduler.override(o.Scheduler),
		ControllerManager:            base.ControllerManager.override(o.ControllerManager),
		NodeMonitorGracePeriod:       pick(base.NodeMonitorGracePeriod, o.NodeMonitorGracePeriod),
		NodeMonitorPeriod:            pick(base.NodeMonitorPeriod, o.NodeMonitorPeriod),
		NodeStatusUpdateFrequency:    pick(base.NodeStatusUpdateFrequency, o.NodeStatusUpdateFrequency),
		NodeLeaseDurationSeconds:     pick(base.NodeLeaseDurationSeconds, o.NodeLeaseDurationSeconds),
		NotReadyTolerationSeconds:    pick(base.NotReadyTolerationSeconds, o.NotReadyTolerationSeconds),
		UnreachableTolerationSeconds: pick(base.UnreachableTolerationSeconds, o.UnreachableTolerationSeconds),
		APIServerShutdownDelay:       pick(base.APIServerShutdownDelay, o.APIServerShutdownDelay),
		MaxContainerRestartPeriod:    pick(base.MaxContainerRestartPeriod, o.MaxContainerRestartPeriod),
	}
}

func (l LeaderElection) override(o LeaderElection) LeaderElection {
	return LeaderElection{
		LeaseDuration: pick(l.LeaseDuration, o.LeaseDuration),
		RenewDeadline: pick(l.RenewDeadline, o.RenewDeadline),
		RetryPeriod:   pick(l.RetryPeriod, o.RetryPeriod),
	}
}

// pick returns override unless it is the zero value.
func pick[T comparable](base, override T) T {
	var zero T
	if override != zero {
		return override
	}
	return base
}

// validateTimeouts checks the profile name, that no override is negative, and the
// leader-election rules on the resolved values.
func (s Spec) validateTimeouts(v *violations) {
	_, profileErr := Profile(s.Profile)
	if profileErr != nil {
		v.notSupported("profile", s.Profile, ProfileFast, ProfileUpstream)
	}
	o := s.Timeouts
	o.Scheduler.validateOverride(v, "timeouts.scheduler")
	o.ControllerManager.validateOverride(v, "timeouts.controllerManager")
	checkNotNegative(v, "timeouts.nodeMonitorGracePeriod", o.NodeMonitorGracePeriod)
	checkNotNegative(v, "timeouts.nodeMonitorPeriod", o.NodeMonitorPeriod)
	checkNotNegative(v, "timeouts.nodeStatusUpdateFrequency", o.NodeStatusUpdateFrequency)
	checkAtLeast(v, "timeouts.nodeLeaseDurationSeconds", o.NodeLeaseDurationSeconds, 0)
	checkAtLeast(v, "timeouts.notReadyTolerationSeconds", o.NotReadyTolerationSeconds, 0)
	checkAtLeast(v, "timeouts.unreachableTolerationSeconds", o.UnreachableTolerationSeconds, 0)
	checkNotNegative(v, "timeouts.apiServerShutdownDelay", o.APIServerShutdownDelay)
	if d := o.MaxContainerRestartPeriod.Duration; d != 0 && (d < time.Second || d > 300*time.Second) {
		v.invalid("timeouts.maxContainerRestartPeriod", o.MaxContainerRestartPeriod, "must be 0 (the profile's) or from 1s to 300s, the kubelet's own range")
	}
	if profileErr != nil {
		return // nothing to resolve against
	}
	r := s.ResolvedTimeouts()
	r.Scheduler.validateResolved(v, "timeouts.scheduler")
	r.ControllerManager.validateResolved(v, "timeouts.controllerManager")
	s.validateShutdownDelay(v, r.APIServerShutdownDelay.Duration)
}

// StaticPodTerminationGrace is the termination grace period of kubeadm's static Pods
// (the Pod default; kubeadm sets none): the kubelet kills a stopping API server after it.
const StaticPodTerminationGrace = 30 * time.Second

// validateShutdownDelay: a graceful stop only loses no request when the LB has taken the
// server out before it stops serving (delay > detection window), and only happens when
// the kubelet waits for it (delay < termination grace). 0 promises no graceful stop.
func (s Spec) validateShutdownDelay(v *violations, delay time.Duration) {
	if delay == 0 {
		return
	}
	const path = "timeouts.apiServerShutdownDelay"
	if delay >= StaticPodTerminationGrace {
		v.invalid(path, delay, "must be shorter than the static Pod's termination grace period %s (the kubelet kills the server while it still serves; profile value or override)", StaticPodTerminationGrace)
	}
	if s.LoadBalancer.Type != LBHAProxy {
		return
	}
	l := s.LoadBalancer
	if l.HealthCheckPath == "/healthz" || l.HealthCheckPath == "/livez" {
		v.invalid("loadBalancer.healthCheckPath", l.HealthCheckPath, "must be /readyz with timeouts.apiServerShutdownDelay %s: %s stays 200 during the delay, so the LB keeps sending to a stopping server", delay, l.HealthCheckPath)
	}
	if w := l.DetectionWindow(); delay <= w {
		v.invalid(path, delay, "must exceed the load balancer's detection window %s = inter %s + fall %d × (min(connect %s, inter) + check %s) + (fall − 1) × fastinter %s, or the server stops serving while the LB still sends to it (profile value or override); or set 0 to promise no graceful stop",
			w, l.CheckInterval, l.Fall, l.ConnectTimeout, l.CheckTimeout, l.FastInterval)
	}
}

func (l LeaderElection) validateOverride(v *violations, path string) {
	checkNotNegative(v, path+".leaseDuration", l.LeaseDuration)
	checkNotNegative(v, path+".renewDeadline", l.RenewDeadline)
	checkNotNegative(v, path+".retryPeriod", l.RetryPeriod)
}

// jitterFactor is client-go's leaderelection.JitterFactor: NewLeaderElector requires
// RenewDeadline > JitterFactor × RetryPeriod.
const jitterFactor = 1.2

// validateResolved checks client-go's rules on resolved (profile + overrides) values.
func (l LeaderElection) validateResolved(v *violations, path string) {
	if l.LeaseDuration.Duration <= l.RenewDeadline.Duration {
		v.invalid(path+".leaseDuration", l.LeaseDuration, "must be greater than renewDeadline %s (profile value or override)", l.RenewDeadline)
	}
	limit := time.Duration(jitterFactor * float64(l.RetryPeriod.Duration))
	if l.RenewDeadline.Duration <= limit {
		v.invalid(path+".renewDeadline", l.RenewDeadline, "must be greater than 1.2 × retryPeriod = %s (client-go's JitterFactor; profile value or override)", limit)
	}
}
