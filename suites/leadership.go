package suites

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// The Lease object shows one holder per read; it cannot show a deposed leader that
// still acts as one. Each instance's own log can: client-go's leader election logs
// "Successfully acquired lease" when an instance starts leading and "Failed to renew
// lease" when it stops (kube-scheduler and kube-controller-manager then log
// "leaderelection lost" and exit). "Never two holders at once" is judged from those
// lines: a standby must acquire only after the deposed leader stopped believing it led.

// leadershipLine is one of those lines.
type leadershipLine struct {
	Node     string
	At       time.Time // the container runtime's timestamp of the line (the host's clock)
	Acquired bool      // the instance started leading; otherwise it stopped
}

// leadershipPattern selects the lines in grep -E syntax (case-insensitive).
const leadershipPattern = "acquired lease|failed to renew lease|leaderelection lost"

// leadershipWatch follows component's log files on every control plane for a while and
// keeps the leadership lines. Reading them afterwards is not enough: a deposed instance
// exits, the kubelet starts another and removes the old container with its log (a
// run lost the deposed scheduler's "Failed to renew lease" that way), so the lines are
// read while they are written.
type leadershipWatch struct {
	component string
	wg        sync.WaitGroup
	mu        sync.Mutex
	lines     []leadershipLine
	errs      []error
}

// watchLeadership starts following component's current log files on every control
// plane for d; each follower ends by itself.
func watchLeadership(ctx context.Context, provider cluster.Provider, component string, d time.Duration) *leadershipWatch {
	nodes, err := provider.Nodes(ctx, topology.RoleControlPlane)
	Expect(err).NotTo(HaveOccurred())
	w := &leadershipWatch{component: component}
	script := func(node string) string {
		return fmt.Sprintf("timeout %d tail -q -n0 -F %s 2>/dev/null | grep --line-buffered -i -E '%s'; true",
			int(d.Seconds()+0.5), staticPodLogs(component, node), leadershipPattern)
	}
	for _, n := range nodes {
		w.wg.Add(1)
		go func(node string) {
			defer w.wg.Done()
			defer GinkgoRecover()
			out, err := provider.Exec(ctx, node, nil, "sh", "-c", script(node))
			w.mu.Lock()
			defer w.mu.Unlock()
			if err != nil {
				w.errs = append(w.errs, fmt.Errorf("follow the %s log on %s: %w", component, node, err))
			}
			w.lines = append(w.lines, parseLeadershipLines(node, out)...)
		}(n.Name)
	}
	return w
}

// wait returns the lines once every follower has ended.
func (w *leadershipWatch) wait() []leadershipLine {
	w.wg.Wait()
	Expect(w.errs).To(BeEmpty(), "following the %s logs", w.component)
	return w.lines
}

// staticPodLogs is a shell glob of the log files of component's static Pod on node, one
// per container instance the kubelet still keeps (the current and the previous one).
func staticPodLogs(component, node string) string {
	return fmt.Sprintf("/var/log/pods/kube-system_%[1]s-%[2]s_*/%[1]s/*.log", component, node)
}

// parseLeadershipLines parses CRI log lines ("<RFC 3339 time> stderr F <message>").
func parseLeadershipLines(node string, out []byte) []leadershipLine {
	var lines []leadershipLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		stamp, message, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			continue
		}
		lower := strings.ToLower(message)
		lines = append(lines, leadershipLine{Node: node, At: at, Acquired: strings.Contains(lower, "acquired lease")})
	}
	return lines
}

// handover is how a deposed leader's instance and its successor saw the change.
type handover struct {
	SteppedDown time.Time // the deposed instance's first "stopped leading" line after the fault
	Acquired    time.Time // another instance's first "acquired" line after the fault
	Successor   string
}

// findHandover looks for the handover from old after since; stepped and acquired say
// whether each side's line was found.
func findHandover(lines []leadershipLine, old string, since time.Time) (h handover, stepped, acquired bool) {
	for _, l := range lines {
		if l.At.Before(since) {
			continue
		}
		switch {
		case l.Node == old && !l.Acquired && (!stepped || l.At.Before(h.SteppedDown)):
			h.SteppedDown, stepped = l.At, true
		case l.Node != old && l.Acquired && (!acquired || l.At.Before(h.Acquired)):
			h.Acquired, h.Successor, acquired = l.At, l.Node, true
		}
	}
	return h, stepped, acquired
}

// expectNoTwoLeaders: after the fault at since, the instance on old (the Lease holder
// cut off from the others, still running) logged that it stopped leading before any
// other instance logged that it acquired the Lease. The gap is measured; client-go
// keeps it at lease duration − renew deadline when both clocks run alike.
func expectNoTwoLeaders(w *leadershipWatch, what, old string, since time.Time, le topology.LeaderElection) {
	component := w.component
	h, stepped, acquired := findHandover(w.wait(), old, since)
	Expect(acquired).To(BeTrue(), "no %s instance logged acquiring the Lease after the fault (deposed leader %s)", component, old)
	Expect(stepped).To(BeTrue(), "the deposed %s leader on %s never logged that it stopped leading, while %s acquired the Lease at %s: two leaders",
		component, old, h.Successor, h.Acquired.Format("15:04:05.000"))
	gap := h.Acquired.Sub(h.SteppedDown)
	AddReportEntry("measured: "+what+": "+component+" leaders by their own logs",
		fmt.Sprintf("%s stopped leading at %s, %s started at %s", old, h.SteppedDown.Format("15:04:05.000"), h.Successor, h.Acquired.Format("15:04:05.000")))
	report(reports.Measurement{Name: what + ": " + component + " gap between the deposed leader stopping and its successor starting",
		Value: gap.Seconds(), Unit: "s", Bound: 0, AtLeast: true,
		Formula: fmt.Sprintf("never negative (two leaders); expected lease %s − renew deadline %s", le.LeaseDuration, le.RenewDeadline)})
	Expect(gap).To(BeNumerically(">=", 0),
		"two %s leaders at once for %s: %s acquired the Lease at %s, the deposed %s logged that it stopped leading only at %s",
		component, (-gap).Round(10*time.Millisecond), h.Successor, h.Acquired.Format("15:04:05.000"), old, h.SteppedDown.Format("15:04:05.000"))
}

// expectEveryInstanceElects: every control plane's current instance of component takes
// part in leader election (its log says it is attempting to acquire the Lease). An
// instance started without it (--leader-elect=false) leads on its own beside the Lease
// holder: two leaders that no read of the Lease shows. An instance that has just been
// restarted gets waits.podStartup to log its first attempt.
func expectEveryInstanceElects(ctx context.Context, spec topology.Spec, provider cluster.Provider, component string) {
	nodes, err := provider.Nodes(ctx, topology.RoleControlPlane)
	Expect(err).NotTo(HaveOccurred())
	var outside []string
	Eventually(func(ctx context.Context) ([]string, error) {
		outside = nil
		for _, n := range nodes {
			elects, err := instanceElects(ctx, provider, n.Name, component)
			if err != nil {
				return nil, err
			}
			if !elects {
				outside = append(outside, n.Name)
			}
		}
		return outside, nil
	}).WithContext(ctx).WithTimeout(spec.Waits.PodStartup.Duration).WithPolling(spec.Waits.Poll.Duration).Should(BeEmpty(),
		"%s runs without leader election on some control planes (its log never attempts to acquire the Lease): each such instance leads on its own beside the Lease holder, two leaders at once", component)
	AddReportEntry("measured: "+component+" instances outside leader election", fmt.Sprintf("%d of %d", len(outside), len(nodes)))
}

// instanceElects reports whether the running instance of component on node (the newest
// log file of its static Pod) logged an attempt to acquire its Lease.
func instanceElects(ctx context.Context, provider cluster.Provider, node, component string) (bool, error) {
	script := fmt.Sprintf(`f=$(ls -t %s 2>/dev/null | head -1)
if [ -z "$f" ]; then echo 0; else grep -c -i 'attempting to acquire leader lease' "$f" || true; fi`, staticPodLogs(component, node))
	out, err := provider.Exec(ctx, node, nil, "sh", "-c", script)
	if err != nil {
		return false, fmt.Errorf("read the %s log on %s: %w", component, node, err)
	}
	return strings.TrimSpace(string(out)) != "0", nil
}
