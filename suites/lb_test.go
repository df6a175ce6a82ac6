//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Load balancer rerouting", Label("lb", "apiserver", "disruptive"), Serial, func() {
	LBReroutingSpec(lbInput)
})

var _ = Describe("Graceful API server termination", Label("lb", "apiserver", "graceful", "disruptive"), Serial, func() {
	GracefulStopSpec(lbInput)
})
