//go:build e2e

package suites

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Security", Label("security"), func() {
	SecuritySpec(context.Background(), securityInput)
})
