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
	spec.Name = o.name
	if strings.HasPrefix(o.target, "v") && !strings.Contains(o.target, ":") {
		spec.Kubernetes.Version, spec.Kubernetes.NodeImage = o.target, ""
	} else {
		version, err := versionOfImage(o.target)
		if err != nil {
			return err
		}
		spec.Kubernetes.Version, spec.Kubernetes.NodeImage = version, o.target
	}
	data, err := yaml.Marshal(spec)
	if err != nil {
		return err
	}
	if _, err := topology.Parse(data); err != nil {
		return fmt.Errorf("derived Spec for %s: %w", o.target, err)
	}
	header := fmt.Sprintf("# derived from %s by hachaos derive-config for %s\n", o.config, o.target)
	return os.WriteFile(o.out, append([]byte(header), data...), 0o644)
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
