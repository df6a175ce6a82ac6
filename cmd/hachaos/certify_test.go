package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hachaos/hachaos/rolling"
)

// Every bad flag is named at once, before anything is created.
func TestCertifyNamesEveryBadFlagAtOnce(t *testing.T) {
	_, err := certifyOptions{config: "../../hachaos.yaml", to: "1.37", trials: 0, timeout: 0, patches: "/nonexistent"}.plan()
	if statusOf(err) != exitHarness {
		t.Fatalf("want a usage error (exit 2), got %v", err)
	}
	for _, want := range []string{"--from: required", "--to: must be a Kubernetes version like v1.37.2", "--trials: must be between 1 and 50, got 0", "--timeout: must be above 0", "--patches: open /nonexistent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lacks %q:\n%v", want, err)
		}
	}
}

func TestCertifyRefusesWhatKubeadmRefuses(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"v1.36.3", "v1.37.2", true},
		{"v1.36.3", "v1.36.4", true},
		{"v1.36.3", "v1.38.0", false}, // two minors
		{"v1.37.2", "v1.36.3", false}, // downgrade
		{"v1.36.3", "v1.36.3", false}, // nothing to do
		{"v1.36.3", "v2.0.0", false},
	} {
		if err := rolling.CheckUpgrade(c.from, c.to); (err == nil) != c.ok {
			t.Errorf("%s → %s: %v, want allowed %v", c.from, c.to, err, c.ok)
		}
	}
	_, err := certifyOptions{config: "../../hachaos.yaml", from: "v1.35.0", to: "v1.37.2", trials: 3, timeout: time.Minute}.plan()
	if err == nil || !strings.Contains(err.Error(), "one minor version at a time") {
		t.Errorf("two minors at once accepted: %v", err)
	}
}

// The FROM Spec is the Spec renamed <name>-cert at FROM's version, everything else kept.
func TestCertifyDerivesTheFROMSpec(t *testing.T) {
	dir := t.TempDir()
	// the suites' binaries beside this test binary are what plan looks for
	self, _ := os.Executable()
	for _, b := range []string{suitesBinaryName, probeBinaryName} {
		path := filepath.Join(filepath.Dir(self), b)
		if err := os.WriteFile(path, []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
	}
	p, err := certifyOptions{config: "../../hachaos.yaml", from: "repo/node:v1.36.3", to: "v1.37.2", trials: 3, timeout: time.Minute, artifacts: dir}.plan()
	if err != nil {
		t.Fatal(err)
	}
	s := p.fromSpec
	if s.Name != "hachaos-cert" || s.Kubernetes.Version != "v1.36.3" || s.Kubernetes.NodeImage != "repo/node:v1.36.3" {
		t.Errorf("FROM Spec %s at %s (%s), want hachaos-cert at v1.36.3 (repo/node:v1.36.3)", s.Name, s.Kubernetes.Version, s.Kubernetes.NodeImage)
	}
	if p.fromConfig != filepath.Join(dir, "from.yaml") || p.comparisonFile != filepath.Join(dir, "comparison.txt") {
		t.Errorf("artifacts not under %s: %s, %s", dir, p.fromConfig, p.comparisonFile)
	}
}
