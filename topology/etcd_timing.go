package topology

import "time"

// etcd's raft timing. hachaos runs etcd with etcd's defaults for --heartbeat-interval
// and --election-timeout, as kubeadm does (neither sets them), so the bounds of the etcd
// guarantees derive from these values.
const (
	EtcdHeartbeatInterval = 100 * time.Millisecond
	EtcdElectionTimeout   = 1000 * time.Millisecond
)

// EtcdElectionBound is how long after a leader dies a new leader is elected, at worst
// with one split vote: a follower's election timer fires at a random point in
// [electionTimeout, 2×electionTimeout) after the last heartbeat, and a split vote
// restarts the timers once more. bound = 2 × 2 × electionTimeout = 4s.
func EtcdElectionBound() time.Duration { return 2 * 2 * EtcdElectionTimeout }

// EtcdWriteGapBound is the longest a client with every member's endpoint may go without
// an acknowledged write while a minority of members fails: a new leader is elected
// within EtcdElectionBound, and a write stuck on the dead member is abandoned after
// opTimeout and retried elsewhere. bound = EtcdElectionBound + opTimeout.
func EtcdWriteGapBound(opTimeout time.Duration) time.Duration {
	return EtcdElectionBound() + opTimeout
}

// LeaseTakeoverBound is how long after a leader dies (without releasing its Lease) a
// standby holds it: the standby takes over once LeaseDuration has passed since it last
// saw the Lease renewed, and it looks every RetryPeriod with client-go's jitter (up to
// 1.2 × RetryPeriod more); one more attempt may be lost to an update conflict.
// bound = LeaseDuration + 2 × RetryPeriod × (1 + JitterFactor).
func (l LeaderElection) LeaseTakeoverBound() time.Duration {
	return l.LeaseDuration.Duration + time.Duration(2*(1+jitterFactor)*float64(l.RetryPeriod.Duration))
}

// APIServerEtcdCheckTimeout is kube-apiserver's --etcd-healthcheck-timeout and
// --etcd-readycheck-timeout. hachaos keeps their default (neither kubeadm nor hachaos
// sets them); the `etcd` and `etcd-readiness` checks of /readyz use them.
const APIServerEtcdCheckTimeout = 2 * time.Second

// APIServerEtcdUnreadyBound is how long an API server cut off from etcd may still answer
// /readyz with "ok": its etcd checks probe etcd at most every timeout/2 and answer with
// the last probe's result in between (k8s.io/apiserver, storagebackend/factory
// newETCD3Check), so the first probe to see the loss starts up to timeout/2 after it and
// fails after timeout. bound = timeout/2 + timeout = 3s. Only then can the load balancer's
// health checks begin to fail.
func APIServerEtcdUnreadyBound() time.Duration {
	return APIServerEtcdCheckTimeout/2 + APIServerEtcdCheckTimeout
}
