package topology

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The defaults of the timing flags the bounds depend on, for a component started without
// the flag (kubeadm sets none of them, nor does hachaos): etcd's --heartbeat-interval and
// --election-timeout, and kube-apiserver's --etcd-healthcheck-timeout and
// --etcd-readycheck-timeout (the `etcd` and `etcd-readiness` checks of /readyz).
const (
	EtcdHeartbeatInterval     = 100 * time.Millisecond
	EtcdElectionTimeout       = 1000 * time.Millisecond
	APIServerEtcdCheckTimeout = 2 * time.Second
)

// Setting is one timing a running component uses, and where it was read.
type Setting struct {
	Value  time.Duration
	Source string // e.g. "etcd --election-timeout on node1, node2, node3", or "etcd default (flag not set)"
}

// Count is a number of things a running component was started with, and where it was read.
type Count struct {
	N      int
	Source string
}

// ComponentTimings are the timing flags the running etcd members and API servers were
// started with: the bounds are derived from them, not from what a Spec or a manual says.
type ComponentTimings struct {
	EtcdHeartbeatInterval     Setting
	EtcdElectionTimeout       Setting
	APIServerEtcdCheckTimeout Setting // --etcd-readycheck-timeout (what /readyz waits for)
	// The URLs an etcd member listens on for clients and for peers: its graceful stop
	// closes them one after the other, each within its own timeout.
	EtcdClientListeners, EtcdPeerListeners Count
}

// DefaultComponentTimings are the components' defaults, for unit tests and as the
// values a component started without the flags runs with.
func DefaultComponentTimings() ComponentTimings {
	return ComponentTimings{
		EtcdHeartbeatInterval:     Setting{EtcdHeartbeatInterval, "etcd default (flag not set)"},
		EtcdElectionTimeout:       Setting{EtcdElectionTimeout, "etcd default (flag not set)"},
		APIServerEtcdCheckTimeout: Setting{APIServerEtcdCheckTimeout, "kube-apiserver default (flag not set)"},
		// etcd's defaults are one URL each (http://localhost:2379 and :2380).
		EtcdClientListeners: Count{1, "etcd default (flag not set)"},
		EtcdPeerListeners:   Count{1, "etcd default (flag not set)"},
	}
}

// ParseComponentTimings reads the timings from the etcd and kube-apiserver command lines
// (by node). etcd takes milliseconds (--election-timeout=1000), kube-apiserver Go
// durations (--etcd-readycheck-timeout=2s).
func ParseComponentTimings(etcd, apiservers map[string]string) (ComponentTimings, error) {
	t := DefaultComponentTimings()
	var errs []string
	read := func(s *Setting, lines map[string]string, component, flag string, parse func(string) (time.Duration, error)) {
		got, err := agreedFlag(lines, flag, parse)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %s: %v", component, flag, err))
			return
		}
		if got > 0 {
			*s = Setting{got, fmt.Sprintf("%s %s on %s", component, flag, strings.Join(sortedKeys(lines), ", "))}
		}
	}
	millis := func(v string) (time.Duration, error) {
		var ms int
		if _, err := fmt.Sscanf(v, "%d", &ms); err != nil || ms <= 0 {
			return 0, fmt.Errorf("%q is not a positive number of milliseconds", v)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	read(&t.EtcdHeartbeatInterval, etcd, "etcd", "--heartbeat-interval", millis)
	read(&t.EtcdElectionTimeout, etcd, "etcd", "--election-timeout", millis)
	read(&t.APIServerEtcdCheckTimeout, apiservers, "kube-apiserver", "--etcd-readycheck-timeout", time.ParseDuration)
	for _, l := range []struct {
		count *Count
		flag  string
	}{{&t.EtcdClientListeners, "--listen-client-urls"}, {&t.EtcdPeerListeners, "--listen-peer-urls"}} {
		if err := readURLCount(l.count, etcd, l.flag); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return ComponentTimings{}, fmt.Errorf("component timings: %s", strings.Join(errs, "; "))
	}
	return t, nil
}

// ParseShutdownDelay reads --shutdown-delay-duration from one kube-apiserver command
// line (node names where it was read); a server started without it stops at once.
func ParseShutdownDelay(node, line string) (Setting, error) {
	v := flagIn(line, "--shutdown-delay-duration")
	if v == "" {
		return Setting{0, "kube-apiserver default (flag not set) on " + node}, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return Setting{}, fmt.Errorf("kube-apiserver --shutdown-delay-duration on %s: %q is not a duration ≥ 0", node, v)
	}
	return Setting{d, "kube-apiserver --shutdown-delay-duration on " + node}, nil
}

// agreedFlag is flag's value on every command line (0 when no line sets it); lines that
// disagree, or set it on some nodes only, are an error naming each.
func agreedFlag(lines map[string]string, flag string, parse func(string) (time.Duration, error)) (time.Duration, error) {
	values := map[string]string{}
	for node, line := range lines {
		values[node] = flagIn(line, flag)
	}
	var first string
	for i, node := range sortedKeys(lines) {
		if i == 0 {
			first = values[node]
		} else if values[node] != first {
			return 0, fmt.Errorf("the members disagree: %v", values)
		}
	}
	if first == "" {
		return 0, nil
	}
	return parse(first)
}

// readURLCount sets count to how many comma-separated URLs flag lists on every etcd
// command line; the addresses differ per member, their number must not.
func readURLCount(count *Count, etcd map[string]string, flag string) error {
	counts := map[string]int{}
	for node, line := range etcd {
		if v := flagIn(line, flag); v != "" {
			counts[node] = len(strings.Split(v, ","))
		}
	}
	if len(counts) == 0 {
		return nil
	}
	var first int
	for i, node := range sortedKeys(etcd) {
		if i == 0 {
			first = counts[node]
		} else if counts[node] != first {
			return fmt.Errorf("etcd %s: the members listen on different numbers of URLs: %v", flag, counts)
		}
	}
	*count = Count{first, fmt.Sprintf("etcd %s on %s", flag, strings.Join(sortedKeys(etcd), ", "))}
	return nil
}

// flagIn is the value of --flag=value or --flag value on a command line, "" if absent.
func flagIn(line, flag string) string {
	fields := strings.Fields(line)
	for i, f := range fields {
		if v, ok := strings.CutPrefix(f, flag+"="); ok {
			return v
		}
		if f == flag && i+1 < len(fields) {
			return fields[i+1]
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
