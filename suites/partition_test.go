//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("Control-plane partition", Label("partition", "etcd", "disruptive"), Serial, func() {
	PartitionSpec(partitionInput)
})
