package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/topology"
)

// Sabotages break a property on purpose on the running topology, for negative controls:
// the suite run afterwards must fail in the right spec, for the right reason. They are
// faults like any other — ledgered, recovered by the next run if this one dies — so a
// control needs no cluster of its own. Each shows it took effect (the component runs
// with the sabotaged flags) before the suite starts: a sabotage that did not apply is
// never "detected".

func init() {
	register(KindManifestFlags, func(t Topology, r Record) Fault {
		return ManifestFlags{topo: t, Node: r.Target, Component: r.Params["component"], Flags: splitFlags(r.Params["flags"]), Added: splitFlags(r.Params["added"])}
	})
	register(KindStaticPodNoRestart, func(t Topology, r Record) Fault {
		return StaticPodNoRestart{topo: t, Node: r.Target, Component: r.Params["component"]}
	})
}

// KindManifestFlags is the registry key of ManifestFlags.
const KindManifestFlags = "manifest-flags"

// ManifestFlags restarts a control-plane component (a static Pod) on one node with some
// of its flags set to other values: the kubelet restarts it from the edited manifest.
// Recover puts the original manifest back (kept beside it while the sabotage lasts).
type ManifestFlags struct {
	topo      Topology
	Node      string
	Component string            // kube-scheduler, kube-controller-manager, kube-apiserver or etcd (stacked)
	Flags     map[string]string // flag (without "--") → value, each already in the manifest
	// Added are flags the manifest must not have yet, added to its command line.
	Added map[string]string
}

// NewManifestFlags sets flags of component on node.
func NewManifestFlags(t Topology, node, component string, flags map[string]string) (ManifestFlags, error) {
	if node == "" {
		return ManifestFlags{}, fmt.Errorf("manifest flags: node is required")
	}
	if component != ProcessScheduler && component != ProcessControllerManager && component != ProcessAPIServer && component != ProcessEtcd {
		return ManifestFlags{}, fmt.Errorf("manifest flags: component %q is not %s, %s, %s or %s (stacked)", component, ProcessScheduler, ProcessControllerManager, ProcessAPIServer, ProcessEtcd)
	}
	return ManifestFlags{topo: t, Node: node, Component: component, Flags: flags}, nil
}

// WithAdded returns f that also adds flags the manifest lacks (refused if it has them:
// a flag added twice would leave which value wins to the component's parser).
func (f ManifestFlags) WithAdded(flags map[string]string) ManifestFlags {
	f.Added = flags
	return f
}

// Record implements Fault.
func (f ManifestFlags) Record() Record {
	r := Record{Kind: KindManifestFlags, Target: f.Node, Params: map[string]string{"component": f.Component, "flags": joinFlags(f.Flags)}}
	if len(f.Added) > 0 {
		r.Params["added"] = joinFlags(f.Added)
	}
	return r
}

// Needs implements Fault: flags in the node's static Pod manifest.
func (f ManifestFlags) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

func (f ManifestFlags) paths() (manifest, original string) { return manifestPaths(f.Component) }

// Inject implements Fault. The edited manifest is written beside and renamed into place:
// the kubelet would read a half-written file in its folder as a static Pod of its own.
func (f ManifestFlags) Inject(ctx context.Context) error {
	if len(f.Flags)+len(f.Added) == 0 {
		return fmt.Errorf("manifest flags: no flag to set or add for %s on %s", f.Component, f.Node)
	}
	manifest, original := f.paths()
	var sed []string
	for flag, value := range f.Flags {
		sed = append(sed, fmt.Sprintf("-e 's|--%[1]s=[^\"]*|--%[1]s=%[2]s|'", flag, value))
	}
	// a flag the manifest lacks cannot be replaced: refuse rather than do nothing
	var checks []string
	for flag := range f.Flags {
		checks = append(checks, fmt.Sprintf("grep -q -- '--%s=' %s || { echo 'no --%s in %s' >&2; exit 1; }", flag, manifest, flag, manifest))
	}
	// an added flag goes before the command line's first flag, with its indentation
	add := []string{"cat"}
	for flag, value := range f.Added {
		checks = append(checks, fmt.Sprintf("! grep -q -- '--%s=' %s || { echo '--%s is already in %s' >&2; exit 1; }", flag, original, flag, original))
		add = append(add, fmt.Sprintf(`awk -v add='- --%s=%s' '!done && /^ *- --/ { match($0, /^ */); print substr($0, 1, RLENGTH) add; done = 1 } { print }'`, flag, value))
	}
	if len(sed) == 0 {
		sed = []string{"-e ''"}
	}
	script := fmt.Sprintf(`set -e
mkdir -p %s
[ -f %s ] || cp %s %s
%s
sed %s %s | %s > /etc/kubernetes/%s.sabotaged
mv /etc/kubernetes/%s.sabotaged %s`, parkedManifestDir, original, manifest, original, strings.Join(checks, "\n"),
		strings.Join(sed, " "), original, strings.Join(add, " | "), f.Component, f.Component, manifest)
	return shIn(ctx, f.topo, f.Node, script)
}

// Recover implements Fault: the original manifest goes back; without one there is
// nothing to undo.
func (f ManifestFlags) Recover(ctx context.Context) error {
	return restoreManifest(ctx, f.topo, f.Node, f.Component)
}

// manifestPaths are a static Pod's manifest and where its original is parked while a
// sabotage edits it.
func manifestPaths(component string) (manifest, original string) {
	return "/etc/kubernetes/manifests/" + component + ".yaml", parkedManifestDir + "/" + component + ".yaml.orig"
}

// restoreManifest puts component's parked original manifest back on node (written
// beside and renamed into place); without one there is nothing to undo.
func restoreManifest(ctx context.Context, t Topology, node, component string) error {
	manifest, original := manifestPaths(component)
	return shIn(ctx, t, node, fmt.Sprintf("if [ -f %[1]s ]; then cp %[1]s /etc/kubernetes/%[3]s.restored && mv /etc/kubernetes/%[3]s.restored %[2]s && rm %[1]s; fi", original, manifest, component))
}

// InEffect implements Observable: the running component's command line has every flag
// with its sabotaged value, and so does its mirror Pod, running and ready.
func (f ManifestFlags) InEffect(ctx context.Context, _ time.Time) error {
	if err := f.processRunsFlags(ctx); err != nil {
		return err
	}
	client, err := clientOf(ctx, f.topo)
	if err != nil {
		return err
	}
	return f.mirrorPodShowsFlags(ctx, client)
}

// processRunsFlags: the running component's command line has every flag.
func (f ManifestFlags) processRunsFlags(ctx context.Context) error {
	out, err := f.topo.Exec(ctx, f.Node, nil, "sh", "-c", fmt.Sprintf(`pid=$(pgrep -n -f '^%s( |$)') && tr '\0' ' ' </proc/$pid/cmdline`, f.Component))
	if err != nil {
		return fmt.Errorf("read %s's command line on %s: %w", f.Component, f.Node, err)
	}
	line := " " + string(out) + " "
	for flag, value := range merged(f.Flags, f.Added) {
		if !strings.Contains(line, " --"+flag+"="+value+" ") {
			return fmt.Errorf("%s on %s does not run with --%s=%s yet", f.Component, f.Node, flag, value)
		}
	}
	return nil
}

// mirrorPodShowsFlags: the API shows the sabotage too. Specs read a component's flags
// from its mirror Pod, which the kubelet replaces after the process (CI read the new
// etcd's mirror Pod as "not found" after the readiness gate had passed on the old one).
func (f ManifestFlags) mirrorPodShowsFlags(ctx context.Context, client kubernetes.Interface) error {
	pod, err := runningMirrorPod(ctx, client, f.Component, f.Node)
	if err != nil {
		return err
	}
	command := " " + strings.Join(slices.Concat(pod.Spec.Containers[0].Command, pod.Spec.Containers[0].Args), " ") + " "
	for flag, value := range merged(f.Flags, f.Added) {
		if !strings.Contains(command, " --"+flag+"="+value+" ") {
			return fmt.Errorf("the mirror Pod %s does not show --%s=%s yet", pod.Name, flag, value)
		}
	}
	return nil
}

func merged(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// joinFlags encodes flags for the ledger as JSON: values may hold commas (a list of
// URLs) and equals signs.
func joinFlags(flags map[string]string) string {
	data, _ := json.Marshal(flags) // a map of strings always encodes
	return string(data)
}

// splitFlags decodes joinFlags, and the "k=v,k=v" of ledgers written before it.
func splitFlags(s string) map[string]string {
	flags := map[string]string{}
	if strings.HasPrefix(s, "{") && json.Unmarshal([]byte(s), &flags) == nil {
		return flags
	}
	for _, p := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(p, "="); ok {
			flags[k] = v
		}
	}
	return flags
}

// KindStaticPodNoRestart is the registry key of StaticPodNoRestart.
const KindStaticPodNoRestart = "static-pod-no-restart"

// StaticPodNoRestart is a sabotage of a control-plane component's static Pod on one
// node: "restartPolicy: Never", so once its container exits (a crash) the kubelet never
// starts it again — the negative control of "a crashed etcd member rejoins". The kubelet
// restarts the component from the edited manifest; Recover puts the original back
// (parked beside it while the sabotage lasts), and the kubelet starts it from that.
type StaticPodNoRestart struct {
	topo      Topology
	Node      string
	Component string // a static Pod's name without its node: etcd, kube-apiserver, …
}

// NewStaticPodNoRestart sabotages component's static Pod on node.
func NewStaticPodNoRestart(t Topology, node, component string) (StaticPodNoRestart, error) {
	if node == "" || component == "" {
		return StaticPodNoRestart{}, fmt.Errorf("static pod no restart: a node and a component are required, got %q and %q", node, component)
	}
	return StaticPodNoRestart{topo: t, Node: node, Component: component}, nil
}

// Record implements Fault.
func (f StaticPodNoRestart) Record() Record {
	return Record{Kind: KindStaticPodNoRestart, Target: f.Node, Params: map[string]string{"component": f.Component}}
}

// Needs implements Fault: the node's static Pod manifest.
func (f StaticPodNoRestart) Needs() []topology.Capability {
	return []topology.Capability{topology.CapabilityNodeCommands}
}

// Inject implements Fault: the Pod's own restartPolicy (two spaces in, under "spec:")
// is dropped and "Never" put first under "spec:"; the edit is written beside and renamed
// into place, as ManifestFlags does.
func (f StaticPodNoRestart) Inject(ctx context.Context) error {
	manifest, original := manifestPaths(f.Component)
	edited := "/etc/kubernetes/" + f.Component + ".sabotaged"
	return shIn(ctx, f.topo, f.Node, fmt.Sprintf(`set -e
mkdir -p %[1]s
[ -f %[3]s ] || cp %[2]s %[3]s
awk '%[5]s' %[3]s > %[4]s
grep -q '^  restartPolicy: Never$' %[4]s
mv %[4]s %[2]s`, parkedManifestDir, manifest, original, edited, neverRestartProgram))
}

// neverRestartProgram is the awk program of StaticPodNoRestart's edit.
const neverRestartProgram = `/^  restartPolicy:/ { next } { print } /^spec:$/ { print "  restartPolicy: Never" }`

// Recover implements Fault.
func (f StaticPodNoRestart) Recover(ctx context.Context) error {
	return restoreManifest(ctx, f.topo, f.Node, f.Component)
}

// InEffect implements Observable: the component's mirror Pod — the kubelet's copy of
// the static Pod it runs — has restartPolicy Never, and its container runs and is ready.
func (f StaticPodNoRestart) InEffect(ctx context.Context, _ time.Time) error {
	client, err := clientOf(ctx, f.topo)
	if err != nil {
		return err
	}
	pod, err := runningMirrorPod(ctx, client, f.Component, f.Node)
	if err != nil {
		return err
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		return fmt.Errorf("%s runs with restartPolicy %s, not Never", pod.Name, pod.Spec.RestartPolicy)
	}
	return nil
}

// clientOf is a Kubernetes client of topo's API.
func clientOf(ctx context.Context, topo Topology) (kubernetes.Interface, error) {
	cfg, err := topo.RESTConfig(ctx)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// runningMirrorPod is component's mirror Pod on node — the kubelet's copy, in the API,
// of the static Pod it runs — once its containers run and are ready. After a manifest
// changes, the kubelet deletes the old mirror Pod and creates the new one on a sync of
// its own: until then the API shows the old Pod, or none.
func runningMirrorPod(ctx context.Context, client kubernetes.Interface, component, node string) (*corev1.Pod, error) {
	name := component + "-" + node
	pod, err := client.CoreV1().Pods(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the mirror Pod %s: %w", name, err)
	}
	if len(pod.Status.ContainerStatuses) == 0 {
		return nil, fmt.Errorf("%s has no container status yet", name)
	}
	for _, c := range pod.Status.ContainerStatuses {
		if c.State.Running == nil || !c.Ready {
			return nil, fmt.Errorf("%s: container %s is not running and ready", name, c.Name)
		}
	}
	return pod, nil
}
