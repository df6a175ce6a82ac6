//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Leader re-election", Label("leader", "disruptive"), Serial, func() {
	LeaderElectionSpec(leaderInput)
})
