// Package providers chooses a topology's provider by its Spec's provider field: kind
// (hachaos creates the cluster) or existing (a cluster given by its kubeconfig). It is
// the one place that knows every provider; everything else sees cluster.Local.
package providers

import (
	"fmt"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/topology/existing"
	"github.com/hachaos/hachaos/topology/kind"
)

// New returns the provider spec names, reporting progress through progress.
func New(spec topology.Spec, progress topology.Progress) (cluster.Local, error) {
	switch spec.Provider {
	case topology.ProviderExisting:
		return existing.New(spec, progress)
	case topology.ProviderKind, "":
		return kind.New(spec, kind.WithProgress(progress))
	default:
		return nil, fmt.Errorf("provider: %q is not one of %s, %s", spec.Provider, topology.ProviderKind, topology.ProviderExisting)
	}
}
