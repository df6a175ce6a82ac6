//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Pod rescheduling", Label("worker", "disruptive"), Serial, func() {
	PodReschedulingSpec(reschedulingInput)
})
