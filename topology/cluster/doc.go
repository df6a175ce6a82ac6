// Package cluster is access to a running topology: the Provider interface that brings
// one up and down and reaches into it (commands in nodes, API, etcd and load-balancer
// clients), the readiness gate every run waits for, Up (create or reuse), and the timing
// flags its components run with. It holds the gRPC, etcd and Kubernetes clients, so that
// the topology package — the Spec, its profiles and the bounds derived from them — needs
// none. It must not inject faults or judge guarantees.
package cluster
