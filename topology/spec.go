package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Spec describes the HA cluster under test. The zero value is not useful: start from
// Default, Load or Parse. Keys are camelCase in YAML; the default of every field is given
// next to it and in hachaos.yaml at the repository root.
type Spec struct {
	// APIVersion and Kind make the file a versioned API object, as Kubernetes' own
	// manifests are: "hachaos.dev/v1alpha1" and "Topology" (the defaults, so Specs written
	// before they existed still load; any other value is refused).
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Name is the kind cluster name; nodes are named <name>-control-plane[N] and
	// <name>-worker[N]. Default "hachaos". Must be a DNS label (lowercase letters, digits and
	// '-', starting and ending with a letter or digit) of at most 40 characters, so that
	// container host names stay DNS labels: the longest suffix, kind's
	// "-external-load-balancer", brings 40 to 63 characters.
	Name string `json:"name"`
	// Provider is what runs the topology: "kind" (default: hachaos creates the cluster
	// in Docker, reuses it while its Spec is unchanged, deletes it on down) or
	// "existing" (a cluster hachaos did not create, reached through Kubeconfig alone —
	// no Docker, no SSH — and never created, recreated or deleted: hachaos only starts
	// its node agent in it for a run and removes it after).
	Provider string `json:"provider"`
	// Kubeconfig is the path of an existing cluster's kubeconfig (provider "existing",
	// required there; relative to the current folder). Its server is the load balancer
	// the API servers are reached through, and its user must be cluster-admin.
	Kubeconfig string `json:"kubeconfig"`
	// Context is the kubeconfig context to use (provider "existing"). Default: the
	// kubeconfig's current context.
	Context string `json:"context"`
	// Agent is hachaos' node agent on an existing cluster (provider "existing").
	Agent AgentSpec `json:"agent"`
	// ControlPlanes is the number of control-plane nodes. Default 3. Odd, 1 to 7: an odd
	// count is what makes a quorum survive the loss of (n-1)/2 nodes.
	ControlPlanes int `json:"controlPlanes"`
	// Workers is the number of worker nodes. Default 2; 1 to 10. At least one, so that
	// workloads never need to run on control-plane nodes.
	Workers int `json:"workers"`
	// IsolatedNodeCPUs limits a control-plane node to this many cores while the
	// partition specs have it cut off from the others (docker update --cpus); 0 means no
	// limit. Default 0.6. Real control planes run on machines of their own: a node cut off
	// from the others, whose API server and etcd member retry a quorum they cannot reach,
	// burns its own CPU only. On one small machine all nodes share the same cores, and
	// without a limit that node took about one core of the two here and starved the
	// majority it was cut off from. Only the isolated node, only while it is isolated: a
	// permanent limit on every control plane starved them instead when an API server
	// restarted.
	IsolatedNodeCPUs float64 `json:"isolatedNodeCPUs"`
	// Etcd says where etcd runs and how many members it has.
	Etcd EtcdSpec `json:"etcd"`
	// Kubernetes chooses the Kubernetes version and node image.
	Kubernetes KubernetesSpec `json:"kubernetes"`
	// LoadBalancer configures the load balancer in front of the API servers.
	LoadBalancer LoadBalancerSpec `json:"loadBalancer"`
	// Profile names the set of timeouts the cluster is configured with: "fast" (default,
	// tuned for quick runs on a small machine) or "upstream" (the Kubernetes defaults).
	// See Profile.
	Profile string `json:"profile"`
	// Timeouts overrides single values of the profile: any non-zero field replaces the
	// profile's value, zero keeps it. Default: all zero (the profile as is).
	Timeouts Timeouts `json:"timeouts"`
	// Waits bounds how long hachaos waits for the cluster itself.
	Waits Waits `json:"waits"`
	// Security holds the thresholds of the security guarantees.
	Security SecuritySpec `json:"security"`
	// Certification is the regression budget of pre-upgrade certification.
	Certification CertificationSpec `json:"certification"`
	// Disruption is what a planned disruption under `hachaos monitor` may cost each
	// backend's clients (failed requests, seconds failing). Default: nothing through the
	// load balancer; API servers and etcd writes recorded only.
	Disruption DisruptionSpec `json:"disruption"`
	// Sabotage breaks properties on purpose, for negative controls only. Default: none.
	Sabotage Sabotage `json:"sabotage"`
}

// The providers a Spec may name.
const (
	ProviderKind     = "kind"
	ProviderExisting = "existing"
)

// AgentSpec is hachaos' node agent on an existing cluster: a privileged DaemonSet (host
// PID and network namespaces) serving, on each node's address (port 10290), the faults'
// node-side steps — signals, static Pod manifests, iptables rules in the harness's own
// chain — started for a run and removed after it.
type AgentSpec struct {
	// Image is the agent's image: hachaos-probe (its agent mode serves the commands) and
	// nsenter on its PATH, pullable by every node (or already there). Default
	// "hachaos/agent:v1" (make images builds it from Debian packages and the probe; a
	// cluster that pulls from a registry names its mirror here).
	Image string `json:"image"`
}

// EtcdMode says where the etcd members run.
type EtcdMode string

const (
	// EtcdStacked runs one etcd member on every control-plane node (kubeadm's default).
	EtcdStacked EtcdMode = "stacked"
	// EtcdExternal runs the etcd members in containers of their own, outside the
	// control-plane nodes, so etcd and API server faults can be injected separately.
	EtcdExternal EtcdMode = "external"
)

// EtcdSpec says where etcd runs and how many members it has.
type EtcdSpec struct {
	// Mode is "stacked" (default) or "external".
	Mode EtcdMode `json:"mode"`
	// Members is the number of etcd members. Default 3. Odd, 1 to 7 (an even member adds
	// no fault tolerance). In stacked mode it must equal controlPlanes, since there is one
	// member per control-plane node; in external mode it is independent.
	Members int `json:"members"`
	// Image is the etcd image of external members. Default "registry.k8s.io/etcd:3.7.0-0".
	// Stacked members use the image kubeadm picks for the Kubernetes version.
	Image string `json:"image"`
}

// KubernetesSpec chooses the Kubernetes version and the kind node image.
type KubernetesSpec struct {
	// Version is the Kubernetes version, "vMAJOR.MINOR.PATCH". Default "v1.37.2".
	Version string `json:"version"`
	// NodeImage is the kind node image. Default "": use "hachaos/node:" + Version, which
	// scripts/build-images.sh builds offline.
	NodeImage string `json:"nodeImage"`
}

// Image is the node image to create the cluster with: NodeImage, or "hachaos/node:" +
// Version when NodeImage is empty.
func (k KubernetesSpec) Image() string {
	if k.NodeImage != "" {
		return k.NodeImage
	}
	return "hachaos/node:" + k.Version
}

// LBType says which load balancer fronts the API servers.
type LBType string

const (
	// LBHAProxy is HAProxy managed by hachaos from the LoadBalancerSpec settings.
	LBHAProxy LBType = "haproxy"
	// LBKind keeps the load balancer container kind created, with kind's own settings
	// (Envoy upstream); the LoadBalancerSpec tuning fields are then not applied.
	LBKind LBType = "kind"
)

// LoadBalancerSpec configures the load balancer in front of the API servers. Its fields
// map one to one to HAProxy settings (named in each comment).
//
// Why these defaults: measured on this machine with HAProxy 2.6, option redispatch,
// 500ms connect and check timeouts, fastinter 250ms and on-marked-down shutdown-sessions,
// killing one API server cost clients 0 failed requests (a connection that is refused is
// retried on another server), and a frozen API server was marked DOWN after ~2.1 s,
// against ~4 s with kind-style settings (inter 2s, fall 2, no fastinter, 3s connect
// timeout). DetectionWindow gives the bound that tests may rely on.
type LoadBalancerSpec struct {
	// Type is "haproxy" (default: HAProxy managed by hachaos from these settings) or "kind"
	// (kind's own load balancer, left untouched).
	Type LBType `json:"type"`
	// Image is the HAProxy image. Default "hachaos/haproxy:2.6".
	Image string `json:"image"`
	// HealthCheckPath is the HTTPS path each API server is checked on ("option httpchk").
	// Default "/readyz": unlike /livez, it fails while the API server cannot reach etcd,
	// so such a server stops getting traffic. Must start with "/".
	HealthCheckPath string `json:"healthCheckPath"`
	// CheckInterval is the time between checks of a healthy server (server "inter").
	// Default 1s.
	CheckInterval Duration `json:"checkInterval"`
	// FastInterval is the time between checks while a server is changing state, i.e.
	// after a first failed check (server "fastinter"). Default 250ms, so the remaining
	// fall-1 checks that confirm a failure come quickly.
	FastInterval Duration `json:"fastInterval"`
	// DownInterval is the time between checks of a server marked DOWN (server
	// "downinter"). Default 1s: a restarted API server is back in rotation within ~1s.
	DownInterval Duration `json:"downInterval"`
	// Fall is the number of consecutive failed checks that mark a server DOWN (server
	// "fall"). Default 2, so a single slow check under load does not eject a server.
	// At least 1.
	Fall int `json:"fall"`
	// Rise is the number of consecutive good checks that mark a server UP again (server
	// "rise"). Default 1: /readyz is only OK once the server is serving. At least 1.
	Rise int `json:"rise"`
	// ConnectTimeout is HAProxy's "timeout connect"; for checks the connect timeout is
	// min(ConnectTimeout, CheckInterval). Default 500ms: on a local docker network a
	// connect takes well under a millisecond, so 500ms only ever expires on a dead peer,
	// and a retry then moves on quickly.
	ConnectTimeout Duration `json:"connectTimeout"`
	// CheckTimeout is HAProxy's "timeout check": how long a check may wait for the reply
	// once connected. Default 500ms: /readyz answers in milliseconds even under load, so a
	// check this slow means the server is frozen or cut off.
	CheckTimeout Duration `json:"checkTimeout"`
	// ClientTimeout is HAProxy's "timeout client" (client-side inactivity). Default 60s;
	// client-go's HTTP/2 health pings (after 30s without frames) keep idle watches alive.
	ClientTimeout Duration `json:"clientTimeout"`
	// ServerTimeout is HAProxy's "timeout server" (server-side inactivity). Default 60s,
	// for the same reason as ClientTimeout.
	ServerTimeout Duration `json:"serverTimeout"`
	// Retries is how often HAProxy retries a failed connection attempt ("retries").
	// Default 3. At least 0.
	Retries int `json:"retries"`
	// Redispatch sends a retried connection to another server instead of the one that
	// failed ("option redispatch"). Default true.
	Redispatch bool `json:"redispatch"`
	// ShutdownSessionsOnDown cuts the open sessions to a server when it is marked DOWN
	// ("on-marked-down shutdown-sessions"), so clients with long-lived connections (kubelets,
	// watches) reconnect to a healthy server at once instead of hanging until a timeout.
	// Default true.
	ShutdownSessionsOnDown bool `json:"shutdownSessionsOnDown"`
	// StatsAddress is host:port of HAProxy's stats socket (TCP, "show servers state")
	// in front of an existing cluster (provider "existing"; optional there: without it
	// the LB specs, which judge on the LB's view of its servers, are skipped). With
	// provider "existing" the fields above are not applied: they state the settings the
	// cluster's HAProxy runs with, and the bounds are derived from them.
	StatsAddress string `json:"statsAddress"`
}

// DetectionWindow is the longest time HAProxy can take to mark an API server DOWN after
// it stops answering. Derived from HAProxy's check scheduler (src/check.c): the next check
// is scheduled when the previous one ends, "inter" later while the server is fully
// healthy and "fastinter" later once a check has failed; a check may spend up to
// min(timeout connect, inter) connecting and then up to "timeout check" waiting for the
// reply; the server goes DOWN on the fall-th consecutive failure. In the worst case the
// server dies just after a good check ended, so
//
//	perCheck = min(ConnectTimeout, CheckInterval) + CheckTimeout
//	window   = CheckInterval + Fall*perCheck + (Fall-1)*FastInterval
//
// With the defaults that is 1s + 2*(500ms+500ms) + 250ms = 3.25s. It is a bound, not the
// typical time: a frozen server fails each check in one of the two phases only (measured
// ~2.1s), and a killed one is refused at once. It assumes "spread-checks" is not set.
// A Fall below 1 (rejected by Validate) counts as 1.
func (l LoadBalancerSpec) DetectionWindow() time.Duration {
	fall := time.Duration(max(l.Fall, 1))
	perCheck := l.CheckLimit()
	return l.CheckInterval.Duration + fall*perCheck + (fall-1)*l.FastInterval.Duration
}

// RiseWindow is the longest time HAProxy can take to put an API server back in rotation
// after it answers its health check again, from the same check scheduler as
// DetectionWindow: the check in flight when the server became ready may still fail
// (perCheck), the next one starts "downinter" after it ended, and the server is UP on
// the rise-th consecutive good check, each taking up to perCheck, "fastinter" apart
// while the server is going up:
//
//	window = perCheck + DownInterval + Rise*perCheck + (Rise-1)*FastInterval
//
// With the defaults that is (500ms+500ms) + 1s + 1*(500ms+500ms) + 0 = 3s. A Rise below
// 1 (rejected by Validate) counts as 1.
func (l LoadBalancerSpec) RiseWindow() time.Duration {
	rise := time.Duration(max(l.Rise, 1))
	perCheck := l.CheckLimit()
	return perCheck + l.DownInterval.Duration + rise*perCheck + (rise-1)*l.FastInterval.Duration
}

// CheckLimit is the longest one HAProxy health check may take before it counts as
// failed: min(timeout connect, inter) to connect, then "timeout check" for the reply.
func (l LoadBalancerSpec) CheckLimit() time.Duration {
	return min(l.ConnectTimeout.Duration, l.CheckInterval.Duration) + l.CheckTimeout.Duration
}

// RiseBeyond is the smallest "rise" with which HAProxy cannot put a server back in
// rotation within d: the good checks after the first come at least "fastinter" apart
// ("inter" where no fastinter is set), so rise checks take at least (rise−1) × that.
// The negative control of RiseWindow sets it to exceed twice the window.
func (l LoadBalancerSpec) RiseBeyond(d time.Duration) int {
	gap := l.FastInterval.Duration
	if gap <= 0 {
		gap = l.CheckInterval.Duration
	}
	if gap <= 0 {
		gap = time.Second
	}
	return int(d/gap) + 2
}

// Waits bounds how long hachaos waits for the cluster itself (not for the behaviour under
// test, whose bounds come from Timeouts).
type Waits struct {
	// ClusterReady bounds bringing the cluster up: kind create plus every node Ready.
	// Default 6m.
	ClusterReady Duration `json:"clusterReady"`
	// Poll is the interval between readiness checks. Default 2s.
	Poll Duration `json:"poll"`
	// ComponentRestart bounds how long a component that was killed or stopped and is
	// back (a static Pod the kubelet restarts, an etcd member started again) takes to
	// serve again: container start, etcd's WAL replay, the API server's informers.
	// Default 180s. A cold start of etcd or kube-apiserver takes 10–20s on 2 cores; a
	// container the kubelet restarts again within 10 minutes of its last restart first
	// waits out its crash-loop back-off (10s, doubling, up to 5 min). Stacked etcd members
	// are stopped with their kubelet paused, not by parking their manifest: that made the
	// kubelet delete the old mirror Pod through its own node's API server, which has no
	// etcd while the local member is down, 34s per attempt and a random number of
	// attempts (43–136s measured, once past 180s; docs/timings.md).
	ComponentRestart Duration `json:"componentRestart"`
	// PodStartup bounds how long a Pod of an image already on the node takes from being
	// created to Ready: scheduling, sandbox, container start. Default 15s.
	PodStartup Duration `json:"podStartup"`
}

// Duration is a time.Duration written in YAML as a Go duration string ("1.5s", "250ms",
// "6m").
type Duration struct {
	time.Duration
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a Go duration string. A JSON null leaves the value unchanged (the
// encoding/json convention), so an empty YAML key keeps its default.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"1.5s\", got %s", b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// parseDuration is time.ParseDuration with an error that quotes the value and says
// what is wanted.
func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want a Go duration such as \"1.5s\" or \"250ms\")", s)
	}
	return v, nil
}

// dur is shorthand for building defaults.
func dur(d time.Duration) Duration { return Duration{Duration: d} }

// Default returns the default topology: 3 control planes with stacked etcd, 2 workers,
// HAProxy in front, the "fast" profile. hachaos.yaml spells out the same values.
func Default() Spec {
	return Spec{
		APIVersion:       APIVersion,
		Kind:             KindTopology,
		Name:             "hachaos",
		Provider:         ProviderKind,
		Agent:            AgentSpec{Image: "hachaos/agent:v1"},
		ControlPlanes:    3,
		Workers:          2,
		IsolatedNodeCPUs: 0.6,
		Etcd:             EtcdSpec{Mode: EtcdStacked, Members: 3, Image: "registry.k8s.io/etcd:3.7.0-0"},
		Kubernetes:       KubernetesSpec{Version: "v1.37.2"},
		LoadBalancer:     defaultLoadBalancer(),
		Profile:          ProfileFast,
		Waits:            Waits{ClusterReady: dur(6 * time.Minute), Poll: dur(2 * time.Second), ComponentRestart: dur(3 * time.Minute), PodStartup: dur(15 * time.Second)},
		Security:         defaultSecurity(),
		Certification:    defaultCertification(),
		Disruption:       defaultDisruption(),
	}
}

func defaultLoadBalancer() LoadBalancerSpec {
	return LoadBalancerSpec{
		Type:                   LBHAProxy,
		Image:                  "hachaos/haproxy:2.6",
		HealthCheckPath:        "/readyz",
		CheckInterval:          dur(time.Second),
		FastInterval:           dur(250 * time.Millisecond),
		DownInterval:           dur(time.Second),
		Fall:                   2,
		Rise:                   1,
		ConnectTimeout:         dur(500 * time.Millisecond),
		CheckTimeout:           dur(500 * time.Millisecond),
		ClientTimeout:          dur(60 * time.Second),
		ServerTimeout:          dur(60 * time.Second),
		Retries:                3,
		Redispatch:             true,
		ShutdownSessionsOnDown: true,
	}
}

// Load reads and validates the topology spec in the YAML file at path (see Parse). Errors
// start with the path.
func Load(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read topology spec: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads a topology spec from YAML and validates it. Keys that are absent keep their
// defaults (Default); a key that is present replaces the default even with a zero value,
// so "workers: 0" is read as 0 and then rejected. Unknown keys (matched case-sensitively),
// values of the wrong type or form, sabotage switches (a negative control's, never a
// file's) and the rules of Validate are reported together, every one at once: a field
// the document check refused keeps its default for the rules, so it adds no second
// error. Only an empty file, several documents and malformed YAML stop at once.
func Parse(data []byte) (Spec, error) {
	if err := checkOneDocument(data); err != nil {
		return Spec{}, err
	}
	v, err := checkDocument(data)
	if err != nil {
		return Spec{}, err
	}
	s := Default()
	if err := decodeStrict(data, &s); err != nil && len(v) == 0 {
		return Spec{}, decodeError(err) // a decoding error the document check did not foresee
	}
	s.validateInto(&v)
	s.Sabotage.refuseInFile(&v)
	if err := v.err(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// decodeStrict decodes the YAML into s as Kubernetes decodes its objects: through JSON,
// with sigs.k8s.io/json's strict mode — keys matched case-sensitively (encoding/json
// would read "Workers" as workers), unknown and duplicate keys errors. checkDocument has
// already named every such key with its path; this is the decoder that cannot drift
// from it.
func decodeStrict(data []byte, s *Spec) error {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(j, s, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// checkOneDocument refuses a file with no YAML document (an empty Spec would silently
// mean every default) or with more than one (the decoder reads the first and would
// drop the rest unseen: "workers: 0" in a second document was accepted).
func checkOneDocument(data []byte) error {
	docs := 0
	content := false
	for _, line := range append(strings.Split(string(data), "\n"), "---") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "---" || strings.HasPrefix(trimmed, "--- "):
			if content {
				docs++
			}
			content = strings.TrimSpace(strings.TrimPrefix(trimmed, "---")) != ""
		case trimmed != "" && !strings.HasPrefix(trimmed, "#"):
			content = true
		}
	}
	switch {
	case docs == 0:
		return errors.New("invalid topology spec: the file holds no YAML document (only blanks or comments); a Spec must say at least its name")
	case docs > 1:
		return fmt.Errorf("invalid topology spec: the file holds %d YAML documents; a Spec is one document (the decoder would read the first and ignore the rest)", docs)
	}
	return nil
}

// checkDocument checks the YAML before it is decoded into a Spec, so that unknown keys and
// bad durations are reported with their full path (encoding/json names only the key, and
// matches keys case-insensitively).
func checkDocument(data []byte) (violations, error) {
	var raw any
	if err := yaml.UnmarshalStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("invalid topology spec: malformed YAML: %w", err)
	}
	var v violations
	checkSection(&v, "", raw, reflect.TypeFor[Spec]())
	return v, nil
}

var durationType = reflect.TypeFor[Duration]()

// checkSection checks that raw, found at path, is a mapping whose keys are fields of the
// struct type t, and descends into its values.
func checkSection(v *violations, path string, raw any, t reflect.Type) {
	if raw == nil {
		return // an empty section keeps its defaults
	}
	m, ok := raw.(map[string]any)
	if !ok {
		v.typeInvalid(orTop(path), raw, "must be a mapping")
		return
	}
	names, types := jsonFields(t)
	for _, key := range slices.Sorted(maps.Keys(m)) {
		ft, known := types[key]
		value := m[key]
		switch {
		case !known:
			v.forbidden(joinPath(path, key), "unknown key (want one of: %s)", strings.Join(names, ", "))
		case ft == durationType:
			checkDuration(v, joinPath(path, key), value)
		case ft.Kind() == reflect.Struct:
			checkSection(v, joinPath(path, key), value, ft)
		default:
			checkScalar(v, joinPath(path, key), value, ft)
		}
	}
}

// checkScalar checks that raw (as YAML decodes to JSON: numbers are float64) fits a
// field of type t; null keeps the default.
func checkScalar(v *violations, path string, raw any, t reflect.Type) {
	if raw == nil {
		return
	}
	got := reflect.TypeOf(raw).Kind()
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		if f, ok := raw.(float64); ok && f == math.Trunc(f) {
			return
		}
	case reflect.Float32, reflect.Float64:
		if got == reflect.Float64 {
			return
		}
	case reflect.Bool, reflect.String:
		if got == t.Kind() {
			return
		}
	default:
		return // a type the rules check
	}
	v.typeInvalid(path, raw, "want %s, got %s", t.Kind(), jsonKind(raw))
}

// jsonKind names a decoded YAML value's type as a reader of the file sees it.
func jsonKind(raw any) string {
	switch raw.(type) {
	case float64:
		return "number"
	case bool:
		return "bool"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", raw)
}

// checkDuration checks that raw is a Go duration string (or empty, which keeps the default).
func checkDuration(v *violations, path string, raw any) {
	if raw == nil {
		return
	}
	s, ok := raw.(string)
	if !ok {
		v.typeInvalid(path, raw, "want a duration string such as \"1.5s\"")
		return
	}
	if _, err := parseDuration(s); err != nil {
		v.invalid(path, s, "want a Go duration such as \"1.5s\" or \"250ms\"")
	}
}

// jsonFields lists the JSON names of the fields of struct type t, in declaration order,
// and maps each name to the field's type.
func jsonFields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

// decodeError is a decoding error checkDocument did not foresee (it checks every key
// and scalar type first, with paths); sigs.k8s.io/json's own message names the field.
func decodeError(err error) error {
	return fmt.Errorf("invalid topology spec: %w", err)
}

// Validate checks every rule and returns one error that lists every violation, each
// naming the field path as written in YAML, or nil if the spec is valid.
// LBStatesReadable reports whether the LB's view of its servers can be read: hachaos'
// own HAProxy always publishes its stats socket; in front of an existing cluster only
// when loadBalancer.statsAddress names it. Without it the readiness gate does not ask
// the LB, and the LB specs, which judge on it, are skipped with the reason.
func (s Spec) LBStatesReadable() bool {
	return s.LoadBalancer.Type == LBHAProxy && (s.Provider != ProviderExisting || s.LoadBalancer.StatsAddress != "")
}

func (s Spec) Validate() error {
	var v violations
	s.validateInto(&v)
	return v.err()
}

// validateInto adds every rule's violation to v.
func (s Spec) validateInto(v *violations) {
	s.validateShape(v)
	s.validateProvider(v)
	s.Etcd.validate(v, s.ControlPlanes)
	s.Kubernetes.validate(v)
	s.LoadBalancer.validate(v)
	s.validateTimeouts(v)
	s.Waits.validate(v)
	s.Security.validate(v)
	s.Certification.validate(v)
	s.Disruption.validate(v)
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// APIVersion and KindTopology are the only apiVersion and kind a Spec may have.
const (
	APIVersion   = "hachaos.dev/v1alpha1"
	KindTopology = "Topology"
)

func (s Spec) validateShape(v *violations) {
	if s.APIVersion != APIVersion {
		v.notSupported("apiVersion", s.APIVersion, APIVersion)
	}
	if s.Kind != KindTopology {
		v.notSupported("kind", s.Kind, KindTopology)
	}
	if !dnsLabel.MatchString(s.Name) || len(s.Name) > 40 {
		v.invalid("name", s.Name, "must be a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit) of at most 40 characters")
	}
	checkOddCount(v, "controlPlanes", s.ControlPlanes)
	checkRange(v, "workers", s.Workers, 1, 10)
	if s.IsolatedNodeCPUs < 0 || s.IsolatedNodeCPUs > 64 {
		v.invalid("isolatedNodeCPUs", s.IsolatedNodeCPUs, "must be 0 (no limit) or a number of cores up to 64")
	} else if s.IsolatedNodeCPUs > 0 && s.IsolatedNodeCPUs < 0.1 {
		v.invalid("isolatedNodeCPUs", s.IsolatedNodeCPUs, "must be at least 0.1 of a core (or 0 for no limit)")
	}
}

// validateProvider checks the provider and what only one provider may have.
func (s Spec) validateProvider(v *violations) {
	switch s.Provider {
	case ProviderKind:
		if s.Kubeconfig != "" {
			v.forbidden("kubeconfig", "only with provider %q: a kind cluster's kubeconfig is hachaos' own", ProviderExisting)
		}
		if s.Context != "" {
			v.forbidden("context", "only with provider %q", ProviderExisting)
		}
	case ProviderExisting:
		if s.Kubeconfig == "" {
			v.required("kubeconfig", "an existing cluster is reached through its kubeconfig")
		}
		checkNotEmpty(v, "agent.image", s.Agent.Image)
		if s.IsolatedNodeCPUs != 0 {
			v.invalid("isolatedNodeCPUs", s.IsolatedNodeCPUs, "must be 0 with provider %q: its machines are not hachaos' to limit", ProviderExisting)
		}
		if s.LoadBalancer.Type != LBHAProxy {
			v.notSupported("loadBalancer.type", string(s.LoadBalancer.Type), string(LBHAProxy))
		}
	default:
		v.notSupported("provider", s.Provider, ProviderKind, ProviderExisting)
	}
	if a := s.LoadBalancer.StatsAddress; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			v.invalid("loadBalancer.statsAddress", a, "must be host:port")
		}
	}
	if s.Provider != ProviderExisting && s.LoadBalancer.StatsAddress != "" {
		v.forbidden("loadBalancer.statsAddress", "only with provider %q: hachaos' own HAProxy publishes its stats socket itself", ProviderExisting)
	}
}

func (e EtcdSpec) validate(v *violations, controlPlanes int) {
	switch e.Mode {
	case EtcdStacked:
		if e.Members != controlPlanes {
			v.invalid("etcd.members", e.Members, "must equal controlPlanes (%d) in stacked mode (one member per control-plane node)", controlPlanes)
		}
	case EtcdExternal:
	default:
		v.notSupported("etcd.mode", string(e.Mode), string(EtcdStacked), string(EtcdExternal))
	}
	checkOddCount(v, "etcd.members", e.Members)
	checkNotEmpty(v, "etcd.image", e.Image)
}

var k8sVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

func (k KubernetesSpec) validate(v *violations) {
	if !k8sVersion.MatchString(k.Version) {
		v.invalid("kubernetes.version", k.Version, "must look like v1.37.2")
	}
}

func (l LoadBalancerSpec) validate(v *violations) {
	if l.Type != LBHAProxy && l.Type != LBKind {
		v.notSupported("loadBalancer.type", string(l.Type), string(LBHAProxy), string(LBKind))
	}
	checkNotEmpty(v, "loadBalancer.image", l.Image)
	if !strings.HasPrefix(l.HealthCheckPath, "/") {
		v.invalid("loadBalancer.healthCheckPath", l.HealthCheckPath, "must start with \"/\"")
	}
	checkPositive(v, "loadBalancer.checkInterval", l.CheckInterval)
	checkPositive(v, "loadBalancer.fastInterval", l.FastInterval)
	checkPositive(v, "loadBalancer.downInterval", l.DownInterval)
	checkPositive(v, "loadBalancer.connectTimeout", l.ConnectTimeout)
	checkPositive(v, "loadBalancer.checkTimeout", l.CheckTimeout)
	checkPositive(v, "loadBalancer.clientTimeout", l.ClientTimeout)
	checkPositive(v, "loadBalancer.serverTimeout", l.ServerTimeout)
	checkAtLeast(v, "loadBalancer.fall", l.Fall, 1)
	checkAtLeast(v, "loadBalancer.rise", l.Rise, 1)
	checkAtLeast(v, "loadBalancer.retries", l.Retries, 0)
}

func (w Waits) validate(v *violations) {
	checkPositive(v, "waits.clusterReady", w.ClusterReady)
	checkPositive(v, "waits.poll", w.Poll)
	checkPositive(v, "waits.componentRestart", w.ComponentRestart)
	checkPositive(v, "waits.podStartup", w.PodStartup)
}

// checkOddCount checks a quorum size: odd, 1 to 7.
func checkOddCount(v *violations, path string, n int) {
	if n < 1 || n > 7 {
		checkRange(v, path, n, 1, 7)
	} else if n%2 == 0 {
		v.invalid(path, n, "must be odd (1, 3, 5 or 7)")
	}
}

func checkRange(v *violations, path string, n, lo, hi int) {
	checkAtLeast(v, path, n, lo)
	if n > hi {
		v.invalid(path, n, "must be at most %d", hi)
	}
}

func checkAtLeast(v *violations, path string, n, lo int) {
	if n < lo {
		v.invalid(path, n, "must be at least %d", lo)
	} else if n > MaxCount {
		v.invalid(path, n, "must be at most %d", MaxCount)
	}
}

// MaxDuration caps every duration in a Spec: no HA timing or wait hachaos knows of comes
// near it, and the windows derived from them add and multiply several (a check interval
// of 2562047h overflowed the LB's detection window).
const MaxDuration = 24 * time.Hour

// MaxCount caps the counts without a tighter rule (fall, rise, retries, seconds, budgets).
const MaxCount = 100000

func checkPositive(v *violations, path string, d Duration) {
	if d.Duration <= 0 {
		v.invalid(path, d, "must be positive")
	}
	checkAtMost(v, path, d)
}

func checkNotNegative(v *violations, path string, d Duration) {
	if d.Duration < 0 {
		v.invalid(path, d, "must not be negative")
	}
	checkAtMost(v, path, d)
}

func checkAtMost(v *violations, path string, d Duration) {
	if d.Duration > MaxDuration {
		v.invalid(path, d, "must be at most %s", MaxDuration)
	}
}

func checkNotEmpty(v *violations, path, s string) {
	if s == "" {
		v.required(path, "must not be empty")
	}
}

// violations collects every broken rule as apimachinery's field.ErrorList, so a Spec's
// errors read as kubectl's: `etcd.members: Invalid value: 4: must be odd (1, 3, 5 or 7)`.
// Values are shown cut to maxValueChars.
type violations field.ErrorList

// invalid: the value at path breaks the rule the detail states.
func (v *violations) invalid(path string, value any, format string, args ...any) {
	*v = append(*v, field.Invalid(fieldPath(path), shownValue(value), fmt.Sprintf(format, args...)))
}

// typeInvalid: the value at path is of the wrong type or form.
func (v *violations) typeInvalid(path string, value any, format string, args ...any) {
	*v = append(*v, field.TypeInvalid(fieldPath(path), shownValue(value), fmt.Sprintf(format, args...)))
}

// notSupported: the value at path is none of the values listed.
func (v *violations) notSupported(path, value string, supported ...string) {
	*v = append(*v, field.NotSupported(fieldPath(path), shownValue(value), supported))
}

// forbidden: the key at path may not be set (unknown, or never in a file).
func (v *violations) forbidden(path, format string, args ...any) {
	*v = append(*v, field.Forbidden(fieldPath(path), fmt.Sprintf(format, args...)))
}

// required: the key at path must be set.
func (v *violations) required(path, detail string) {
	*v = append(*v, field.Required(fieldPath(path), detail))
}

// fieldPath is a dotted YAML path ("etcd.members") as a field.Path.
func fieldPath(dotted string) *field.Path {
	names := strings.Split(dotted, ".")
	return field.NewPath(names[0], names[1:]...)
}

// maxValueChars is how much of a value an error shows: a 10,000-character string in
// the wrong place needs naming, not repeating.
const maxValueChars = 40

// shownValue is value as an error shows it: a Duration as written ("1.5s"), anything
// longer than maxValueChars cut there with "…".
func shownValue(value any) any {
	switch x := value.(type) {
	case Duration:
		value = x.String()
	case time.Duration:
		value = x.String()
	case map[string]any, []any:
		value = fmt.Sprint(x)
	}
	if s, ok := value.(string); ok && len(s) > maxValueChars {
		return s[:maxValueChars] + "…"
	}
	return value
}

// maxListed is how many violations an error lists before "and N more": enough for any
// Spec a person wrote, not 108 MB for a generated one with 600,000 unknown keys.
const maxListed = 50

// err returns nil if nothing was broken, else one error listing every violation (the
// first maxListed, then how many more).
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	var listed []string
	for _, e := range v[:min(len(v), maxListed)] {
		listed = append(listed, e.Error())
	}
	if len(v) > maxListed {
		listed = append(listed, fmt.Sprintf("and %d more", len(v)-maxListed))
	}
	return errors.New("invalid topology spec:\n  - " + strings.Join(listed, "\n  - "))
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}
