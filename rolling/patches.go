package rolling

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hachaos/hachaos/topology/cluster"
)

// Patches are kubeadm patch files by file name, applied by every `kubeadm upgrade` of
// an upgrade (kubeadm's --patches): a platform team's own changes to the components
// kubeadm writes, and how a certification's control makes TO really slower (an etcd
// election timeout raised on TO only: controls/certify-slower-etcd-election).
type Patches map[string][]byte

// patchName is kubeadm's file name rule for patches: target[suffix][+patchtype].extension.
var patchName = regexp.MustCompile(`^(etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubeletconfiguration|corednsdeployment)[^+.]*(\+(strategic|merge|json))?\.(json|yaml)$`)

// nodePatchDir is where the patches are written in every node for kubeadm to read.
const nodePatchDir = "/etc/kubernetes/hachaos-patches"

// LoadPatches reads every file of dir; a name kubeadm would not apply (it ignores them
// silently) is an error, all of them at once. An empty dir is an error too: asking
// for patches and getting none would be accepted silently.
func LoadPatches(dir string) (Patches, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--patches: %w", err)
	}
	p := Patches{}
	var problems []string
	for _, e := range entries {
		if e.IsDir() || !patchName.MatchString(e.Name()) {
			problems = append(problems, fmt.Sprintf("--patches: %s: not a kubeadm patch file: want target[suffix][+strategic|merge|json].json|yaml with target one of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubeletconfiguration, corednsdeployment", filepath.Join(dir, e.Name())))
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			problems = append(problems, "--patches: "+err.Error())
			continue
		}
		p[e.Name()] = data
	}
	if len(entries) == 0 {
		problems = append(problems, fmt.Sprintf("--patches: %s holds no file", dir))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return p, nil
}

// Names are the patch files' names, sorted.
func (p Patches) Names() []string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// kubeadmFlag is the flag that makes kubeadm apply the patches written by install.
func (p Patches) kubeadmFlag() string {
	if len(p) == 0 {
		return ""
	}
	return " --patches " + nodePatchDir
}

// install writes the patches into node's nodePatchDir, replacing what an earlier run
// left there.
func (p Patches) install(ctx context.Context, provider cluster.Provider, node string) error {
	if len(p) == 0 {
		return nil
	}
	if _, err := provider.Exec(ctx, node, nil, "sh", "-c", "rm -rf "+nodePatchDir+" && mkdir -p "+nodePatchDir); err != nil {
		return fmt.Errorf("prepare %s on %s: %w", nodePatchDir, node, err)
	}
	for _, name := range p.Names() {
		// the path as an argument, never in the script: a name may hold spaces or $()
		if _, err := provider.Exec(ctx, node, bytes.NewReader(p[name]), "sh", "-c", `cat > "$1"`, "sh", nodePatchDir+"/"+name); err != nil {
			return fmt.Errorf("write the patch %s on %s: %w", name, node, err)
		}
	}
	return nil
}
