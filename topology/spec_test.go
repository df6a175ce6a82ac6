package topology

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseRejects checks that each bad input is rejected with an error that names the
// field path as written in YAML and the rule.
func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"even etcd members", "etcd: {mode: external, members: 4}",
			[]string{"etcd.members: Invalid value: 4: must be odd (1, 3, 5 or 7)"}},
		{"zero etcd members", "etcd: {mode: external, members: 0}",
			[]string{"etcd.members: Invalid value: 0: must be at least 1"}},
		{"too many etcd members", "etcd: {mode: external, members: 9}",
			[]string{"etcd.members: Invalid value: 9: must be at most 7"}},
		{"unknown etcd mode", "etcd: {mode: sidecar}",
			[]string{`etcd.mode: Unsupported value: "sidecar": supported values: "stacked", "external"`}},
		{"empty etcd image", `etcd: {image: ""}`,
			[]string{"etcd.image: Required value: must not be empty"}},
		{"stacked members differ from control planes", "controlPlanes: 5",
			[]string{"etcd.members: Invalid value: 3: must equal controlPlanes (5) in stacked mode"}},
		{"even control planes", "controlPlanes: 4\netcd: {members: 4}",
			[]string{"controlPlanes: Invalid value: 4: must be odd (1, 3, 5 or 7)"}},
		{"zero workers", "workers: 0",
			[]string{"workers: Invalid value: 0: must be at least 1"}},
		{"too many workers", "workers: 11",
			[]string{"workers: Invalid value: 11: must be at most 10"}},
		{"bad name", "name: Hachaos_1",
			[]string{`name: Invalid value: "Hachaos_1": must be a DNS label`}},
		{"name too long", "name: " + strings.Repeat("a", 41),
			[]string{`name: Invalid value: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…": must be a DNS label`}},
		{"bad version", "kubernetes: {version: 1.37.2}",
			[]string{`kubernetes.version: Invalid value: "1.37.2": must look like v1.37.2`}},
		{"unknown LB type", "loadBalancer: {type: nginx}",
			[]string{`loadBalancer.type: Unsupported value: "nginx": supported values: "haproxy", "kind"`}},
		{"health check path without slash", "loadBalancer: {healthCheckPath: readyz}",
			[]string{`loadBalancer.healthCheckPath: Invalid value: "readyz": must start with "/"`}},
		{"zero fall", "loadBalancer: {fall: 0}",
			[]string{"loadBalancer.fall: Invalid value: 0: must be at least 1"}},
		{"negative retries", "loadBalancer: {retries: -1}",
			[]string{"loadBalancer.retries: Invalid value: -1: must be at least 0"}},
		{"zero LB duration", "loadBalancer: {checkTimeout: 0s}",
			[]string{`loadBalancer.checkTimeout: Invalid value: "0s": must be positive`}},
		{"negative LB duration", "loadBalancer: {checkInterval: -1s}",
			[]string{`loadBalancer.checkInterval: Invalid value: "-1s": must be positive`}},
		{"zero wait", "waits: {poll: 0s}",
			[]string{`waits.poll: Invalid value: "0s": must be positive`}},
		{"unknown profile", "profile: slow",
			[]string{`profile: Unsupported value: "slow": supported values: "fast", "upstream"`}},
		{"shutdown delay inside the LB's detection window", "timeouts: {apiServerShutdownDelay: 3s}",
			[]string{`timeouts.apiServerShutdownDelay: Invalid value: "3s": must exceed the load balancer's detection window 3.25s = inter 1s + fall 2`}},
		{"shutdown delay beyond the termination grace", "timeouts: {apiServerShutdownDelay: 30s}",
			[]string{`timeouts.apiServerShutdownDelay: Invalid value: "30s": must be shorter than the static Pod's termination grace period 30s`}},
		{"graceful stop behind a /healthz check", "loadBalancer: {healthCheckPath: /healthz}",
			[]string{`loadBalancer.healthCheckPath: Invalid value: "/healthz": must be /readyz with timeouts.apiServerShutdownDelay 5s: /healthz stays 200 during the delay`}},
		{"disruption budget below zero", "disruption: {lbNewConnections: {failedRequests: -1}}",
			[]string{"disruption.lbNewConnections.failedRequests: Invalid value: -1: must be at least 0"}},
		{"disruption budget that judges nothing", "disruption: {lbKeptAlive: {recordOnly: true, seconds: 2s}}",
			[]string{"disruption.lbKeptAlive.recordOnly: Invalid value: true: judges nothing"}},
		{"negative shutdown delay", "timeouts: {apiServerShutdownDelay: -1s}",
			[]string{`timeouts.apiServerShutdownDelay: Invalid value: "-1s": must not be negative`}},
		{"negative duration override", "timeouts: {scheduler: {leaseDuration: -1s}}",
			[]string{`timeouts.scheduler.leaseDuration: Invalid value: "-1s": must not be negative`}},
		{"negative node override", "timeouts: {nodeMonitorGracePeriod: -5s}",
			[]string{`timeouts.nodeMonitorGracePeriod: Invalid value: "-5s": must not be negative`}},
		{"negative toleration override", "timeouts: {notReadyTolerationSeconds: -1}",
			[]string{"timeouts.notReadyTolerationSeconds: Invalid value: -1: must be at least 0"}},
		{"unparsable duration", "loadBalancer: {checkTimeout: 3 seconds}",
			[]string{`loadBalancer.checkTimeout: Invalid value: "3 seconds": want a Go duration such as "1.5s"`}},
		{"duration as a number", "waits: {poll: 2}",
			[]string{`waits.poll: Invalid value: 2: want a duration string such as "1.5s"`}},
		{"unknown top-level key", "wokers: 2",
			[]string{"wokers: Forbidden: unknown key (want one of: apiVersion, kind, name, provider, kubeconfig, context, agent, controlPlanes, workers,"}},
		{"unknown nested key", "loadBalancer: {helthCheckPath: /readyz}",
			[]string{"loadBalancer.helthCheckPath: Forbidden: unknown key", "healthCheckPath"}},
		{"unknown deeply nested key", "timeouts: {scheduler: {lease: 8s}}",
			[]string{"timeouts.scheduler.lease: Forbidden: unknown key (want one of: leaseDuration, renewDeadline, retryPeriod)"}},
		{"key in the wrong case", "Workers: 2",
			[]string{"Workers: Forbidden: unknown key"}},
		{"section that is not a mapping", "etcd: 3",
			[]string{"etcd: Invalid value: 3: must be a mapping"}},
		{"empty file", "", []string{"holds no YAML document"}},
		{"comments only", "# nothing here\n\n---\n  # still nothing\n", []string{"holds no YAML document"}},
		{"a second document", "name: a\n---\nworkers: 0\n", []string{"holds 2 YAML documents"}},
		{"document that is not a mapping", "- workers: 2",
			[]string{"(document): Invalid value: "}},
		{"wrong value type", "workers: three",
			[]string{`workers: Invalid value: "three": want int, got string`}},
		{"malformed YAML", "workers: [1\nname: x",
			[]string{"malformed YAML"}},
		{"duplicate key", "workers: 2\nworkers: 3",
			[]string{"malformed YAML", `"workers"`}},
		{"lease not above renew deadline", "timeouts: {controllerManager: {leaseDuration: 4s}}",
			[]string{`timeouts.controllerManager.leaseDuration: Invalid value: "4s": must be greater than renewDeadline 4s`}},
		{"renew deadline not above jittered retry period", "timeouts: {scheduler: {retryPeriod: 4s}}",
			[]string{`timeouts.scheduler.renewDeadline: Invalid value: "4s": must be greater than 1.2 × retryPeriod = 4.8s`}},
		{"upstream profile with a short lease", "profile: upstream\ntimeouts: {scheduler: {leaseDuration: 10s}}",
			[]string{`timeouts.scheduler.leaseDuration: Invalid value: "10s": must be greater than renewDeadline 10s`}},
		{"another apiVersion and kind", "apiVersion: hachaos.dev/v2\nkind: Cluster",
			[]string{`apiVersion: Unsupported value: "hachaos.dev/v2": supported values: "hachaos.dev/v1alpha1"`, `kind: Unsupported value: "Cluster": supported values: "Topology"`}},
		{"a duration past the cap (it overflowed the derived detection window)", "loadBalancer: {checkInterval: 2562047h}",
			[]string{`loadBalancer.checkInterval: Invalid value: "2562047h0m0s": must be at most 24h0m0s`}},
		{"a count past the cap", "loadBalancer: {fall: 1000000}",
			[]string{"loadBalancer.fall: Invalid value: 1000000: must be at most 100000"}},
		{"a crash-loop back-off cap beyond the kubelet's range", "timeouts: {maxContainerRestartPeriod: 301s}",
			[]string{`timeouts.maxContainerRestartPeriod: Invalid value: "5m1s": must be 0 (the profile's) or from 1s to 300s`}},
		{"a certificate window past a year", "security: {certExpiryWindow: 9000h}",
			[]string{`security.certExpiryWindow: Invalid value: "9000h0m0s": must be positive and at most 8760h0m0s`}},
		{"every violation at once", "workers: 0\nprofile: slow\nloadBalancer: {type: nginx}",
			[]string{"invalid topology spec:\n  - ", "\n  - workers:", "\n  - profile:", "\n  - loadBalancer.type:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", tc.yaml)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) error:\n%v\nwant it to contain %q", tc.yaml, err, w)
				}
			}
		})
	}
}

// A generated Spec with thousands of unknown keys gets the first violations and a count,
// not megabytes of errors.
func TestParseCapsTheErrorsListed(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "unknownKey%d: 1\n", i)
	}
	_, err := Parse([]byte(b.String()))
	if err == nil {
		t.Fatal("5000 unknown keys accepted")
	}
	if n := strings.Count(err.Error(), "\n  - "); n != maxListed+1 || !strings.Contains(err.Error(), fmt.Sprintf("and %d more", 5000-maxListed)) {
		t.Errorf("%d lines listed, want %d and a count of the rest:\n%.300s", n, maxListed+1, err)
	}
}

// TestParseAccepts checks good inputs and what they resolve to.
func TestParseAccepts(t *testing.T) {
	fast, err := Profile(ProfileFast)
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := Profile(ProfileUpstream)
	if err != nil {
		t.Fatal(err)
	}
	overridden := fast
	overridden.Scheduler.LeaseDuration = dur(8 * time.Second)

	external := Default()
	external.Etcd.Mode, external.Etcd.Members = EtcdExternal, 5

	cases := []struct {
		name         string
		yaml         string
		wantSpec     func() Spec // nil: not checked
		wantTimeouts Timeouts
	}{
		{"empty sections keep defaults", "timeouts:\nwaits:\nloadBalancer: {checkInterval: }", Default, fast},
		{"one timeout overridden, the rest from the profile",
			"timeouts: {scheduler: {leaseDuration: 8s}}", nil, overridden},
		{"upstream profile", "profile: upstream", nil, upstream},
		{"external etcd with 5 members and 3 control planes",
			"etcd: {mode: external, members: 5}", func() Spec { return external }, fast},
		{"stacked with 5 control planes and 5 members",
			"controlPlanes: 5\netcd: {members: 5}", nil, fast},
		{"LB type kind", "loadBalancer: {type: kind}", nil, fast},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.yaml, err)
			}
			if tc.wantSpec != nil && s != tc.wantSpec() {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tc.yaml, s, tc.wantSpec())
			}
			if got := s.ResolvedTimeouts(); got != tc.wantTimeouts {
				t.Errorf("ResolvedTimeouts() =\n%+v\nwant\n%+v", got, tc.wantTimeouts)
			}
		})
	}
}

// TestRepoSpecs keeps hachaos.yaml equal to Default() (the file documents the defaults)
// and checks that hachaos-external.yaml loads.
func TestRepoSpecs(t *testing.T) {
	s, err := Load("../hachaos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s != Default() {
		t.Errorf("hachaos.yaml =\n%+v\nwant Default() =\n%+v", s, Default())
	}
	ext, err := Load("../hachaos-external.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ext.Etcd.Mode != EtcdExternal || ext.Name != "hachaos-ext" {
		t.Errorf("hachaos-external.yaml: etcd.mode %q, name %q; want external, hachaos-ext", ext.Etcd.Mode, ext.Name)
	}
}

func TestLoad(t *testing.T) {
	s, err := Load("testdata/external-5-members.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Etcd.Members != 5 || s.ControlPlanes != 3 || s.Name != "ext5" {
		t.Errorf("got etcd.members %d, controlPlanes %d, name %q; want 5, 3, ext5", s.Etcd.Members, s.ControlPlanes, s.Name)
	}

	_, err = Load("testdata/even-etcd-members.yaml")
	want := "testdata/even-etcd-members.yaml: invalid topology spec:\n  - etcd.members:"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load error = %v, want it to start with %q", err, want)
	}

	if _, err := Load("testdata/missing.yaml"); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load of a missing file: error = %v, want one naming the file", err)
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	up := Default()
	up.Profile = ProfileUpstream
	if err := up.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestProfile(t *testing.T) {
	up, err := Profile(ProfileUpstream)
	if err != nil {
		t.Fatal(err)
	}
	if up.Scheduler.LeaseDuration.Duration != 15*time.Second || up.NodeMonitorGracePeriod.Duration != 50*time.Second ||
		up.NodeLeaseDurationSeconds != 40 || up.UnreachableTolerationSeconds != 300 {
		t.Errorf("upstream profile = %+v, not the Kubernetes v1.37 defaults", up)
	}
	if _, err := Profile("slow"); err == nil || !strings.Contains(err.Error(), `"slow"`) {
		t.Errorf(`Profile("slow") error = %v, want one quoting the name`, err)
	}
}

func TestDetectionWindow(t *testing.T) {
	lb := func(inter, fast, connect, check time.Duration, fall int) LoadBalancerSpec {
		l := defaultLoadBalancer()
		l.CheckInterval, l.FastInterval, l.ConnectTimeout, l.CheckTimeout = dur(inter), dur(fast), dur(connect), dur(check)
		l.Fall = fall
		return l
	}
	ms := time.Millisecond
	cases := []struct {
		name string
		lb   LoadBalancerSpec
		want time.Duration
	}{
		// 1s + 2*(500ms+500ms) + 1*250ms
		{"defaults", defaultLoadBalancer(), 3250 * ms},
		// inter + one check, no fastinter: 1s + (500ms+500ms)
		{"fall 1", lb(time.Second, 250*ms, 500*ms, 500*ms, 1), 2 * time.Second},
		// connect phase capped at inter: 1s + 3*(1s+500ms) + 2*250ms
		{"connect timeout above inter", lb(time.Second, 250*ms, 5*time.Second, 500*ms, 3), 6 * time.Second},
		// kind-style: 2s + 2*(2s+1s) + 1*2s
		{"slow checks", lb(2*time.Second, 2*time.Second, 3*time.Second, time.Second, 2), 10 * time.Second},
		// invalid fall counts as 1: 1s + (500ms+500ms)
		{"fall 0", lb(time.Second, 250*ms, 500*ms, 500*ms, 0), 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.lb.DetectionWindow(); got != tc.want {
				t.Errorf("DetectionWindow() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRiseWindow(t *testing.T) {
	ms := time.Millisecond
	lb := func(down, fast time.Duration, rise int) LoadBalancerSpec {
		l := defaultLoadBalancer()
		l.DownInterval, l.FastInterval, l.Rise = dur(down), dur(fast), rise
		return l
	}
	cases := []struct {
		name string
		lb   LoadBalancerSpec
		want time.Duration
	}{
		// (500ms+500ms) + 1s + 1*(500ms+500ms) + 0
		{"defaults", defaultLoadBalancer(), 3 * time.Second},
		// 1s + 2s + 3*1s + 2*250ms
		{"rise 3, downinter 2s", lb(2*time.Second, 250*ms, 3), 6500 * ms},
		// an invalid rise counts as 1
		{"rise 0", lb(time.Second, 250*ms, 0), 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.lb.RiseWindow(); got != tc.want {
				t.Errorf("RiseWindow() = %s, want %s", got, tc.want)
			}
		})
	}
}

// The control's rise must keep a server out longer than twice the window at the
// least, whatever the check latency: (rise − 1) × fastinter > 2 × window.
func TestRiseBeyondExceedsTwiceTheWindow(t *testing.T) {
	for _, fast := range []time.Duration{0, 100 * time.Millisecond, 250 * time.Millisecond, 2 * time.Second} {
		l := defaultLoadBalancer()
		l.FastInterval = dur(fast)
		gap := fast
		if gap == 0 {
			gap = l.CheckInterval.Duration
		}
		twice := 2 * l.RiseWindow()
		if r := l.RiseBeyond(twice); time.Duration(r-1)*gap <= twice {
			t.Errorf("fastinter %s: rise %d comes up after %s at the earliest, not beyond %s", fast, r, time.Duration(r-1)*gap, twice)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(dur(1500 * time.Millisecond))
	if err != nil || string(b) != `"1.5s"` {
		t.Errorf(`Marshal(1.5s) = %s, %v; want "1.5s"`, b, err)
	}
	cases := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{`"250ms"`, 250 * time.Millisecond, ""},
		{`"6m"`, 6 * time.Minute, ""},
		{`null`, 42, ""}, // unchanged
		{`"3 seconds"`, 0, `"3 seconds"`},
		{`5`, 0, "want a duration string"},
	}
	for _, tc := range cases {
		d := dur(42)
		err := json.Unmarshal([]byte(tc.in), &d)
		switch {
		case tc.wantErr == "" && (err != nil || d.Duration != tc.want):
			t.Errorf("Unmarshal(%s) = %s, %v; want %s", tc.in, d, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Unmarshal(%s) error = %v, want one containing %s", tc.in, err, tc.wantErr)
		}
	}
}

func TestKubernetesImage(t *testing.T) {
	if got := (KubernetesSpec{Version: "v1.37.2"}).Image(); got != "hachaos/node:v1.37.2" {
		t.Errorf("Image() = %q, want hachaos/node:v1.37.2", got)
	}
	if got := (KubernetesSpec{Version: "v1.37.2", NodeImage: "my/node:x"}).Image(); got != "my/node:x" {
		t.Errorf("Image() = %q, want my/node:x", got)
	}
}

// A type error, an unknown key, a rule and a sabotage switch are reported together:
// the first kind no longer hides the others.
func TestParseReportsEveryKindOfErrorAtOnce(t *testing.T) {
	_, err := Parse([]byte("apiVersion: hachaos.dev/v1alpha1\nkind: Topology\nname: Demo_Cluster!\ncontrolPlanes: three\nworkers: -1\nwrokers: 2\nsabotage: {workloadPinned: true}\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`controlPlanes: Invalid value: "three": want int, got string`,
		"wrokers: Forbidden: unknown key",
		"name: ",
		"workers: ",
		"sabotage.workloadPinned: Forbidden: a negative control's switch",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "controlPlanes: must") {
		t.Errorf("a mistyped field also failed a rule (it keeps its default for the rules):\n%v", err)
	}
}

// The invalid Specs in testdata/invalid are refused with exactly the errors in their
// .err files: every problem at once, each naming its field and rule (regenerate with
// HACHAOS_UPDATE_GOLDEN=1 after a deliberate change of wording, and read the diff).
func TestInvalidSpecsAreRefusedWithEveryProblemNamed(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d invalid Specs (%v), want at least 10", len(files), err)
	}
	for _, f := range files {
		_, err := Load(f)
		if err == nil {
			t.Errorf("%s: accepted", f)
			continue
		}
		golden := strings.TrimSuffix(f, ".yaml") + ".err"
		if os.Getenv("HACHAOS_UPDATE_GOLDEN") == "1" {
			if err := os.WriteFile(golden, []byte(err.Error()+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, rerr := os.ReadFile(golden)
		if rerr != nil || err.Error()+"\n" != string(want) {
			t.Errorf("%s: error\n%v\nwant (%s)\n%s", f, err, golden, want)
		}
	}
}
