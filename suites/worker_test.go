//go:build e2e

package suites

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Pod rescheduling", Label("worker", "disruptive"), Serial, func() {
	PodReschedulingSpec(context.Background(), reschedulingInput)
})
