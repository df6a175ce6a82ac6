package rolling

import (
	"context"
	"strings"
	"testing"

	"github.com/hachaos/hachaos/topology"
)

func TestUpgradeGoesOneMinorForwardOnly(t *testing.T) {
	spec := topology.Default()
	spec.Kubernetes.Version = "v1.36.3"
	in := Input{Spec: spec}
	for to, want := range map[string]string{
		"v1.37.2": "",
		"v1.36.5": "",
		"v1.38.0": "one minor version at a time",
		"v1.36.1": "forward only",
		"1.37":    "is not a Kubernetes version",
	} {
		err := in.checkUpgrade(context.Background(), to)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("to %s: err %v, want %q", to, err, want)
		}
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	if got := tail("a\nb\nc\nd\n", 2); got != "c\nd" {
		t.Errorf("tail = %q", got)
	}
}
