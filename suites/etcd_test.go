//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("etcd quorum tolerance", Label("etcd", "disruptive"), Serial, func() {
	EtcdToleranceSpec(etcdInput)
})
