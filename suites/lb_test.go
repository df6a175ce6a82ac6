//go:build e2e

package suites

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Load balancer rerouting", Label("lb", "apiserver", "disruptive"), Serial, func() {
	LBReroutingSpec(context.Background(), lbInput)
})
