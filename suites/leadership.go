package suites

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
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

// readLeadershipLines reads component's leadership lines from every control plane's
// container logs, restarted instances' files too (the kubelet keeps the previous one).
func readLeadershipLines(ctx context.Context, provider topology.Provider, component string) ([]leadershipLine, error) {
	nodes, err := provider.Nodes(ctx, topology.RoleControlPlane)
	if err != nil {
		return nil, err
	}
	var lines []leadershipLine
	for _, n := range nodes {
		logs := fmt.Sprintf("/var/log/pods/kube-system_%s-%s_*/%s/*.log", component, n.Name, component)
		out, err := provider.Exec(ctx, n.Name, nil, "sh", "-c", fmt.Sprintf("grep -h -i -E '%s' %s || true", leadershipPattern, logs))
		if err != nil {
			return nil, fmt.Errorf("read the %s logs on %s: %w", component, n.Name, err)
		}
		lines = append(lines, parseLeadershipLines(n.Name, out)...)
	}
	return lines, nil
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
func expectNoTwoLeaders(ctx context.Context, provider topology.Provider, what, component, old string, since time.Time, le topology.LeaderElection) {
	lines, err := readLeadershipLines(ctx, provider, component)
	Expect(err).NotTo(HaveOccurred())
	h, stepped, acquired := findHandover(lines, old, since)
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
