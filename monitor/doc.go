// Package monitor is hachaos' disruption monitor: the standard observation of a running
// topology (requests through the load balancer on new and kept-alive connections, each
// API server directly, each HAProxy backend, the Lease holders, each etcd member's view
// of the leader, optionally etcd traffic with a recorded history and the test
// workload), started and stopped outside any test framework, and the disruption judge
// that holds a recording to the Spec's budgets (topology.DisruptionSpec).
//
// The fault specs in suites record through it, and `hachaos monitor -- <command>`
// records around any command (an upgrade script, a rolling restart, a node reboot)
// with the same series, judged by the same functions. It injects nothing.
package monitor
