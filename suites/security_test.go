//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Security", Label("security"), func() {
	SecuritySpec(securityInput)
})

// The same checks again after an etcd member restarted and a partition healed: no
// fallback to weaker settings.
var _ = Describe("Security after faults", Label("security", "disruptive"), Ordered, Serial, func() {
	SecurityFaultsSpec(securityFaultsInput)
	SecuritySpec(securityInput)
})
