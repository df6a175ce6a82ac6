//go:build e2e

package suites

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
)

var _ = Describe("etcd quorum tolerance", Label("etcd", "disruptive"), Serial, func() {
	EtcdToleranceSpec(context.Background(), etcdInput)
})
