package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/hachaos/hachaos/topology"
)

// deriveConfig writes a Spec that differs from --config only in its name and Kubernetes
// version or node image: the two sides of a certification run. The result is validated
// before it is written, so a bad FROM/TO fails here, before anything is created.
func deriveConfig(args []string) error {
	fs := flag.NewFlagSet("derive-config", flag.ContinueOnError)
	config := fs.String("config", "hachaos.yaml", "topology Spec file to start from")
	name := fs.String("name", "", "topology name of the derived Spec (required)")
	target := fs.String("kubernetes", "", "a Kubernetes version (v1.36.3) or a node image (repo:tag) (required)")
	out := fs.String("out", "", "file to write (required)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *name == "" || *target == "" || *out == "" {
		return usageError{"derive-config needs --name, --kubernetes and --out"}
	}
	spec, err := topology.Load(*config)
	if err != nil {
		return err
	}
	spec.Name = *name
	if strings.HasPrefix(*target, "v") && !strings.Contains(*target, ":") {
		spec.Kubernetes.Version, spec.Kubernetes.NodeImage = *target, ""
	} else {
		version, err := versionOfImage(*target)
		if err != nil {
			return err
		}
		spec.Kubernetes.Version, spec.Kubernetes.NodeImage = version, *target
	}
	data, err := yaml.Marshal(spec)
	if err != nil {
		return err
	}
	if _, err := topology.Parse(data); err != nil {
		return fmt.Errorf("derived Spec for %s: %w", *target, err)
	}
	header := fmt.Sprintf("# derived from %s by hachaos derive-config for %s\n", *config, *target)
	return os.WriteFile(*out, append([]byte(header), data...), 0o644)
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
