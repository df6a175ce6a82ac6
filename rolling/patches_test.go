package rolling

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPatchesTakesKubeadmsNamesAndRefusesOthersAllAtOnce(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"etcd+json.json", "kube-apiserver0+merge.yaml", "etcd.yml", "apiserver.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("[]"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadPatches(dir)
	if err == nil || !strings.Contains(err.Error(), "etcd.yml: not a kubeadm patch file") || !strings.Contains(err.Error(), "apiserver.yaml: not a kubeadm patch file") {
		t.Fatalf("err %v: want both bad names", err)
	}
	os.Remove(filepath.Join(dir, "etcd.yml"))
	os.Remove(filepath.Join(dir, "apiserver.yaml"))
	p, err := LoadPatches(dir)
	if err != nil || strings.Join(p.Names(), ",") != "etcd+json.json,kube-apiserver0+merge.yaml" || p.kubeadmFlag() != " --patches "+nodePatchDir {
		t.Fatalf("patches %v, err %v", p.Names(), err)
	}
	if _, err := LoadPatches(t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no file") {
		t.Errorf("an empty folder: err %v", err)
	}
}

// The shipped control that makes TO really slower is a patch kubeadm accepts.
func TestTheSlowerEtcdElectionControlIsAKubeadmPatch(t *testing.T) {
	p, err := LoadPatches("../controls/certify-slower-etcd-election")
	if err != nil || len(p) != 1 || !strings.Contains(string(p["etcd+json.json"]), "--election-timeout=") {
		t.Fatalf("patches %v, err %v", p.Names(), err)
	}
}
