package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/hachaos/hachaos/topology"
)

// deriveOptions are derive-config's flags.
type deriveOptions struct{ config, name, target, out string }

func newDeriveConfigCommand() *cobra.Command {
	var o deriveOptions
	c := &cobra.Command{
		Use:     "derive-config --name N --kubernetes vX.Y.Z|IMAGE --out F",
		Short:   "the Spec with another name and Kubernetes version (certify)",
		GroupID: "reports",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return deriveConfig(o) },
	}
	addConfigFlag(c.Flags(), &o.config, "topology Spec file to start from")
	c.Flags().StringVar(&o.name, "name", "", "topology name of the derived Spec (required)")
	c.Flags().StringVar(&o.target, "kubernetes", "", "a Kubernetes version (v1.36.3) or a node image (repo:tag) (required)")
	c.Flags().StringVar(&o.out, "out", "", "file to write (required)")
	return c
}

// deriveConfig writes a Spec that differs from --config only in its name and Kubernetes
// version or node image: the two sides of a certification run. The result is validated
// before it is written, so a bad FROM/TO fails here, before anything is created.
func deriveConfig(o deriveOptions) error {
	if err := requireFlags("derive-config", map[string]string{"--name": o.name, "--kubernetes": o.target, "--out": o.out}); err != nil {
		return err
	}
	spec, err := topology.Load(o.config)
	if err != nil {
		return err
	}
	derived, err := deriveSpec(spec, o.name, o.target)
	if err != nil {
		return err
	}
	return writeSpec(o.out, derived, fmt.Sprintf("derived from %s by hachaos derive-config for %s", o.config, o.target))
}

// deriveSpec is spec renamed to name, at Kubernetes version or node image target,
// validated.
func deriveSpec(spec topology.Spec, name, target string) (topology.Spec, error) {
	spec.Name = name
	if strings.HasPrefix(target, "v") && !strings.Contains(target, ":") {
		spec.Kubernetes.Version, spec.Kubernetes.NodeImage = target, ""
	} else {
		version, err := versionOfImage(target)
		if err != nil {
			return topology.Spec{}, err
		}
		spec.Kubernetes.Version, spec.Kubernetes.NodeImage = version, target
	}
	return checkedSpec(spec, target)
}

// checkedSpec is spec after a round trip through its file form and Parse: what a
// derived Spec file will load as, every rule checked.
func checkedSpec(spec topology.Spec, what string) (topology.Spec, error) {
	data, err := yaml.Marshal(spec)
	if err != nil {
		return topology.Spec{}, err
	}
	parsed, err := topology.Parse(data)
	if err != nil {
		return topology.Spec{}, fmt.Errorf("derived Spec for %s: %w", what, err)
	}
	return parsed, nil
}

// writeSpec writes spec to path, headed by a comment saying where it came from.
func writeSpec(path string, spec topology.Spec, origin string) error {
	data, err := yaml.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("# "+origin+"\n"), data...), 0o644)
}

// versionOfImage reads the Kubernetes version from a node image tag ("…:v1.36.3"), as
// kind's and hachaos' node images are tagged.
func versionOfImage(image string) (string, error) {
	i := strings.LastIndex(image, ":")
	if i < 0 || !strings.HasPrefix(image[i+1:], "v") {
		return "", fmt.Errorf("node image %q: its tag must be the Kubernetes version (repo:v1.36.3)", image)
	}
	return image[i+1:], nil
}
