//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Topology", Label("topology"), func() {
	TopologySpec(topologyInput)
})
