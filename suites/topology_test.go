//go:build e2e

package suites

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Topology", Label("topology"), func() {
	TopologySpec(context.Background(), topologyInput)
})
