package fault

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hachaos/hachaos/topology"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StaticPodStopBound is how soon a static Pod whose manifest was moved away is gone: the
// kubelet sees the change at once (inotify) or at its next file check (fileCheckFrequency,
// 20 s: the kubelet's default, which kubeadm keeps), then stops the Pod within its
// termination grace period (30 s: the default, which kubeadm's static Pods keep).
const StaticPodStopBound = 20*time.Second + 30*time.Second

// EffectBound is how soon after its Inject returned f must be seen in effect, and why: a
// parked static Pod within StaticPodStopBound; a stopped etcd member within its own
// graceful stop (EtcdMemberStop.StopWithin) after the signal; anything else (a signal,
// a rule, a paused container) acts at once, so within signal — the caller's two checks'
// answer times.
func EffectBound(f Fault, signal time.Duration) (time.Duration, string) {
	if stop, ok := f.(EtcdMemberStop); ok {
		return signal + stop.StopWithin, "two checks' answer times + etcd's graceful stop"
	}
	switch f.Record().Kind {
	case KindAPIServerStop:
		return StaticPodStopBound, "kubelet file check 20 s + termination grace 30 s"
	}
	return signal, "acts at once: two checks' answer times"
}

// Observable is a fault that can show, from outside the harness's own bookkeeping,
// that it took effect: the process it stopped is gone, the process it killed was
// restarted, the rules it added are there and drop packets. A spec asserts this within
// a bound after Inject; a fault whose Inject did nothing ends its spec as "fault not in
// effect", never as a broken guarantee.
type Observable interface {
	Fault
	// InEffect returns nil when the fault's effect is visible now, or an error saying
	// what is seen instead. since is when its Inject began: a killed process that the
	// kubelet restarted counts as killed when the running one started after since.
	InEffect(ctx context.Context, since time.Time) error
}

// processAbsent is nil when no process whose command line starts with process runs in
// node. A machine that is not running runs none.
func processAbsent(ctx context.Context, t Topology, node, process string) error {
	if st, err := t.NodeState(ctx, node); err != nil {
		return err
	} else if !st.Running {
		return nil
	}
	out, err := t.Exec(ctx, node, nil, "sh", "-c", fmt.Sprintf("pgrep -f '^%s( |$)' | head -1", process))
	if err != nil {
		return fmt.Errorf("look for %s on %s: %w", process, node, err)
	}
	if pid := strings.TrimSpace(string(out)); pid != "" {
		return fmt.Errorf("%s still runs on %s (pid %s)", process, node, pid)
	}
	return nil
}

// restartedSince is nil when the process (command line starting with process) in node
// is gone or started after since. Its age comes from the kernel (/proc/PID/stat start
// time against /proc/uptime: the nodes share the host's kernel, so one clock), and it
// counts as restarted only if it is younger than the time since the kill began as
// measured *before* the check ran, which no command latency can make true by mistake.
func restartedSince(ctx context.Context, t Topology, node, process string, since time.Time) error {
	elapsed := time.Since(since)
	if st, err := t.NodeState(ctx, node); err != nil {
		return err
	} else if !st.Running {
		return nil
	}
	fields, err := instance(ctx, t, node, process, false)
	if err != nil || fields == nil {
		return err // nil: gone, the kubelet or Docker has not started it again yet
	}
	age, err := processAge(fields)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", process, node, err)
	}
	if age >= elapsed {
		return fmt.Errorf("%s on %s (pid %s) has run for %s, since before the kill %s ago: it was not killed",
			process, node, fields[0], age.Round(10*time.Millisecond), elapsed.Round(10*time.Millisecond))
	}
	return nil
}

// NewestStartedSince is nil when the newest instance of process on node started after
// since (by the kernel's clock, as restartedSince): a component restarted, a daemon
// reloaded. Its absence is an error: nothing runs yet.
func NewestStartedSince(ctx context.Context, t Topology, node, process string, since time.Time) error {
	elapsed := time.Since(since)
	fields, err := newestInstance(ctx, t, node, process)
	if err != nil {
		return err
	}
	age, err := processAge(fields)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", process, node, err)
	}
	if age >= elapsed {
		return fmt.Errorf("the newest %s on %s has run for %s, since before %s ago", process, node, age.Round(10*time.Millisecond), elapsed.Round(10*time.Millisecond))
	}
	return nil
}

// uptimeMark is an instant on a node's kernel clock (/proc/uptime, in clock ticks),
// taken by a fault's Inject right before the change it makes, and shared by the fault's
// copies so that InEffect compares processes' start times with it on the same clock.
type uptimeMark struct {
	mu    sync.Mutex
	ticks int64 // 0 until set
}

// setUptime records /proc/uptime's first field ("1234.56" seconds).
func (m *uptimeMark) setUptime(uptime string) error {
	seconds, err := strconv.ParseFloat(uptime, 64)
	if err != nil {
		return fmt.Errorf("read the kernel's uptime: got %q", uptime)
	}
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ticks = int64(seconds * clockTicks)
	return nil
}

func (m *uptimeMark) get() (int64, bool) {
	if m == nil {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ticks, m.ticks > 0
}

// newestStartedAtTick is nil when the newest instance of process on node started at or
// after the kernel tick mark (/proc/PID/stat's start time, the same clock). "At" because
// both count whole ticks: only a process started before the change could share its
// tick, and the one it replaces started long before.
func newestStartedAtTick(ctx context.Context, t Topology, node, process string, mark int64) error {
	fields, err := newestInstance(ctx, t, node, process)
	if err != nil {
		return err
	}
	start, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return fmt.Errorf("%s on %s: unexpected start time %q", process, node, fields[1])
	}
	if start < mark {
		return fmt.Errorf("the newest %s on %s (pid %s) started at tick %d, before the change at tick %d: it was not reloaded", process, node, fields[0], start, mark)
	}
	return nil
}

// instance reads the oldest (or, with newest, the newest) process on node whose command
// line starts with process, as the kernel tells it: "pid start-ticks uptime-seconds",
// the uptime read beside the start time. Nil when none runs.
func instance(ctx context.Context, t Topology, node, process string, newest bool) ([]string, error) {
	which := "-o"
	if newest {
		which = "-n"
	}
	script := fmt.Sprintf(`pid=$(pgrep %s -f '^%s( |$)') || exit 0
echo "$pid $(cut -d' ' -f22 /proc/$pid/stat) $(cut -d' ' -f1 /proc/uptime)"`, which, process)
	out, err := t.Exec(ctx, node, nil, "sh", "-c", script)
	if err != nil {
		return nil, fmt.Errorf("look for %s on %s: %w", process, node, err)
	}
	fields := strings.Fields(string(out))
	switch len(fields) {
	case 0:
		return nil, nil
	case 3:
		return fields, nil
	}
	return nil, fmt.Errorf("%s on %s: unexpected process status %q", process, node, out)
}

// newestInstance is instance's newest, whose absence is an error: nothing runs yet.
func newestInstance(ctx context.Context, t Topology, node, process string) ([]string, error) {
	fields, err := instance(ctx, t, node, process, true)
	if err == nil && fields == nil {
		err = fmt.Errorf("no %s running on %s", process, node)
	}
	return fields, err
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's start time: 100 on
// every Linux architecture Docker runs kind on.
const clockTicks = 100

// processAge reads "pid starttime-ticks uptime-seconds".
func processAge(fields []string) (time.Duration, error) {
	if len(fields) != 3 {
		return 0, fmt.Errorf("unexpected process status %q", strings.Join(fields, " "))
	}
	ticks, err1 := strconv.ParseFloat(fields[1], 64)
	uptime, err2 := strconv.ParseFloat(fields[2], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("unexpected process status %q: %w", strings.Join(fields, " "), err)
	}
	return time.Duration((uptime - ticks/clockTicks) * float64(time.Second)), nil
}

// machineRestartedSince is nil when node's machine is not running or was (re)started
// after since: an external etcd member is its machine, and its image has no shell to
// look inside with.
func machineRestartedSince(ctx context.Context, t Topology, node string, since time.Time) error {
	st, err := t.NodeState(ctx, node)
	if err != nil {
		return err
	}
	if st.Running && !st.StartedAt.After(since) {
		return fmt.Errorf("%s has run since %s, before the kill at %s: it was not killed", node, st.StartedAt.Format("15:04:05.000"), since.Format("15:04:05.000"))
	}
	return nil
}

// machineStopped is nil when node's machine is not running.
func machineStopped(ctx context.Context, t Topology, node string) error {
	st, err := t.NodeState(ctx, node)
	if err != nil {
		return err
	}
	if st.Running {
		return fmt.Errorf("%s still runs", node)
	}
	return nil
}

// InEffect implements Observable: no kube-apiserver process runs on the node.
func (f APIServerStop) InEffect(ctx context.Context, _ time.Time) error {
	return processAbsent(ctx, f.nodes, f.Node, "kube-apiserver")
}

// InEffect implements Observable: every kube-apiserver process is stopped (state T).
func (f APIServerFreeze) InEffect(ctx context.Context, _ time.Time) error {
	out, err := f.nodes.Exec(ctx, f.Node, nil, "sh", "-c", `for p in $(pgrep -x kube-apiserver); do echo "$p $(cut -d' ' -f3 /proc/$p/stat)"; done`)
	if err != nil {
		return fmt.Errorf("read kube-apiserver's state on %s: %w", f.Node, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return fmt.Errorf("no kube-apiserver runs on %s to be frozen", f.Node)
	}
	for i := 0; i+1 < len(lines); i += 2 {
		if lines[i+1] != "T" {
			return fmt.Errorf("kube-apiserver on %s (pid %s) is in state %s, not stopped", f.Node, lines[i], lines[i+1])
		}
	}
	return nil
}

// InEffect implements Observable: the process is gone or was restarted after the kill.
func (f ProcessKill) InEffect(ctx context.Context, since time.Time) error {
	if pid, start, ok := f.killed.get(); ok {
		return replaced(ctx, f.topo, f.Node, f.Process, pid, start)
	}
	return restartedSince(ctx, f.topo, f.Node, f.Process, since)
}

// replaced is nil when the process (command line starting with process) on node is gone
// or is not the one with the kernel identity (pid, start ticks) a kill recorded.
func replaced(ctx context.Context, t Topology, node, process, pid, start string) error {
	if st, err := t.NodeState(ctx, node); err != nil {
		return err
	} else if !st.Running {
		return nil
	}
	fields, err := instance(ctx, t, node, process, false)
	if err != nil {
		return err
	}
	if fields != nil && fields[0] == pid && fields[1] == start {
		return fmt.Errorf("%s on %s is still the process the kill was sent to (pid %s, started at tick %s): it was not killed", process, node, pid, start)
	}
	return nil
}

// InEffect implements Observable: the member's etcd process is gone and its node's
// kubelet, which would restart it, paused (for external etcd: its machine stopped).
func (f EtcdMemberStop) InEffect(ctx context.Context, _ time.Time) error {
	if f.Mode == topology.EtcdExternal {
		return machineStopped(ctx, f.topo, f.Node)
	}
	if err := processAbsent(ctx, f.topo, f.Node, "etcd"); err != nil {
		return err
	}
	return processPaused(ctx, f.topo, f.Node, "kubelet")
}

// processPaused is nil when the oldest process named process in node is stopped by a
// signal (state T in /proc/PID/stat).
func processPaused(ctx context.Context, t Topology, node, process string) error {
	out, err := t.Exec(ctx, node, nil, "sh", "-c", fmt.Sprintf("pid=$(pgrep -o -x %s) && cut -d' ' -f3 /proc/$pid/stat", process))
	if err != nil {
		return fmt.Errorf("look for %s on %s: %w", process, node, err)
	}
	if state := strings.TrimSpace(string(out)); state != "T" {
		return fmt.Errorf("%s on %s is not paused (process state %q)", process, node, state)
	}
	return nil
}

// InEffect implements Observable: the member's etcd process (its machine, for external
// etcd) is gone or was restarted after the crash.
func (f EtcdMemberCrash) InEffect(ctx context.Context, since time.Time) error {
	if f.Mode == topology.EtcdExternal {
		return machineRestartedSince(ctx, f.topo, f.Node, since)
	}
	return f.processKill().InEffect(ctx, since)
}

// InEffect implements Observable: the partition chain is hooked in, and a TCP
// connection from the node to its first peer's API server port gets no answer at all
// within a second (a refusal would be an answer: packets still flow).
func (f Partition) InEffect(ctx context.Context, _ time.Time) error {
	if len(f.Peers) == 0 {
		return fmt.Errorf("partition of %s has no peers", f.Node)
	}
	script := fmt.Sprintf(`iptables -w -S %[1]s >/dev/null 2>&1 || { echo "no %[1]s chain"; exit 0; }
iptables -w -S | grep -q -- '-j %[1]s' || { echo "%[1]s is not hooked in"; exit 0; }
timeout 1 bash -c 'exec 3<>/dev/tcp/%[2]s/6443' 2>/dev/null; rc=$?
[ $rc -eq 124 ] || echo "a TCP connection to %[2]s:6443 got an answer (exit $rc)"`, PartitionChain, f.Peers[0])
	out, err := f.nodes.Exec(ctx, f.Node, nil, "sh", "-c", script)
	if err != nil {
		return fmt.Errorf("check the partition of %s: %w", f.Node, err)
	}
	if msg := strings.TrimSpace(string(out)); msg != "" {
		return fmt.Errorf("partition of %s not in effect: %s", f.Node, msg)
	}
	return nil
}

// kubeletAnswerTimeout is how long a kubelet gets to complete a TLS handshake before it
// counts as not answering: an idle kubelet answers in milliseconds.
const kubeletAnswerTimeout = time.Second

// InEffect implements Observable: the worker's kubelet (port 10250, from the host) does
// not complete a TLS handshake: a paused node's kernel still accepts the connection,
// but nothing answers on it; a stopped node does not even accept it.
func (f WorkerLoss) InEffect(ctx context.Context, _ time.Time) error {
	nodes, err := f.nodes.Nodes(ctx, "")
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Name != f.Node {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, kubeletAnswerTimeout)
		defer cancel()
		dialer := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} // only "does it answer": no data is exchanged
		conn, err := dialer.DialContext(dctx, "tcp", net.JoinHostPort(n.IP, "10250"))
		if err != nil {
			return nil
		}
		conn.Close()
		return fmt.Errorf("the kubelet of %s (%s:10250) still answers", f.Node, n.IP)
	}
	return fmt.Errorf("worker %s is not a node of the topology", f.Node)
}

// InEffect implements Observable: the node is cordoned and runs no Pod the drain
// evicts (anything but DaemonSet and mirror Pods).
func (f WorkerDrain) InEffect(ctx context.Context, _ time.Time) error {
	client, err := f.client(ctx)
	if err != nil {
		return err
	}
	node, err := client.CoreV1().Nodes().Get(ctx, f.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read node %s: %w", f.Node, err)
	}
	if !node.Spec.Unschedulable {
		return fmt.Errorf("node %s is not cordoned", f.Node)
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + f.Node})
	if err != nil {
		return fmt.Errorf("list the Pods on %s: %w", f.Node, err)
	}
	var left []string
	for _, p := range pods.Items {
		if evictable(p) {
			left = append(left, p.Namespace+"/"+p.Name)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("%d Pods the drain evicts are still on %s: %v", len(left), f.Node, left)
	}
	return nil
}

// evictable: not a DaemonSet Pod, not a mirror Pod, not finished.
func evictable(p corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return false
		}
	}
	return true
}
