// Package rolling restarts a topology's control plane one node at a time, the way a
// kubeadm upgrade rolls through it: on each control-plane node every static Pod in turn
// (etcd when stacked, kube-apiserver, kube-controller-manager, kube-scheduler) gets a
// new manifest — the kubelet stops the old Pod gracefully (SIGTERM, its termination
// grace) and starts the new one — and the next waits until the new instance runs and the
// readiness gate passes; then the node's kubelet restarts. It is the upgrade machinery
// run to the same version: `hachaos monitor -- hachaos rolling-restart` measures what it
// costs clients. Each step is written to an events file (Steps), so the monitor draws it
// as a band on the timeline. Upgrade rolls the same way to another Kubernetes version
// (kubeadm upgrade apply / node, kubelets, workers drained; external etcd members
// first), Stage makes that version available in every node beforehand.
//
// Interrupted (Ctrl-C, SIGKILL) it leaves nothing to undo: every manifest is replaced
// whole by a rename, so a node holds the old or the new manifest, both valid, and the
// kubelet converges on it; the next run's readiness gate waits for that. What an
// upgrade stops on purpose (an API server around its kubelet's replacement, an external
// etcd member around its binary's) goes through the fault ledger first, so the next
// run's start or `hachaos recover` starts it again.
package rolling
