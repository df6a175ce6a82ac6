package topology

import (
	"reflect"
	"strings"
	"time"
)

// SecuritySpec holds the thresholds of the security guarantees.
type SecuritySpec struct {
	// CertExpiryWindow: the security suite fails when any certificate of the cluster
	// (kubeadm's PKI, kubelet serving certificates, external etcd's PKI, the certificates
	// the endpoints serve) expires within this window. Default 720h (30 days): enough
	// notice to rotate before an upgrade, and shorter than the 90 days hachaos gives its
	// own external etcd certificates.
	CertExpiryWindow Duration `json:"certExpiryWindow"`
}

// Sabotage switches break an HA or security property on purpose. They exist for negative
// controls only: a suite run against a sabotaged topology must fail with the right
// reason, which shows that the guarantee it checks can fail at all. All default false.
type Sabotage struct {
	// WorkloadPinned pins the test workload's Pods to one worker (a nodeSelector), an
	// application that is not HA: when that worker is lost nothing can be rescheduled
	// (caught by the worker-loss rescheduling spec).
	WorkloadPinned bool `json:"workloadPinned"`
	// WorkloadWithoutPDB deploys the test workload without its PodDisruptionBudget, so a
	// drain evicts all of a worker's Pods at once (caught by the drain spec).
	WorkloadWithoutPDB bool `json:"workloadWithoutPDB"`
	// WorkloadSlowToStart gives the test workload a readiness delay of twice
	// waits.podStartup: its Pods start slower than the Spec promises, so a drain that
	// waits for each replacement takes longer than its bound (caught by the drain spec's
	// duration).
	WorkloadSlowToStart bool `json:"workloadSlowToStart"`
	// StaleLeaseTimings starts kube-scheduler and kube-controller-manager with upstream's
	// leader-election timings (15s/10s/2s) while the Spec promises its profile's: flags
	// that drifted from what was certified. A standby then takes over later than the
	// promised bound (caught by the leader re-election spec on the fast profile).
	StaleLeaseTimings bool `json:"staleLeaseTimings"`
	// SchedulerOutsideLeaderElection restarts the last control plane's kube-scheduler
	// with --leader-elect=false once the cluster is up: it schedules on its own, beside
	// whichever instance holds the Lease — two leaders the Lease object does not show
	// (caught by the leader re-election spec's check that every instance elects).
	SchedulerOutsideLeaderElection bool `json:"schedulerOutsideLeaderElection"`
	// DataPlanePinned runs the data-plane server on the first worker only: a Service
	// whose every Pod sits on the worker that is lost, so nothing is left to route its
	// requests to (caught by the worker-loss spec's routing bound).
	DataPlanePinned bool `json:"dataPlanePinned"`
	// DataPlaneLivenessOnAPI gives the data-plane server a liveness probe on the API
	// servers' /readyz: a workload that depends on the control plane, which its kubelet
	// restarts again and again while etcd has no quorum (caught by the majority-stop
	// spec's data-plane guarantee).
	DataPlaneLivenessOnAPI bool `json:"dataPlaneLivenessOnAPI"`
}

// PlaintextEtcdPort is where a sabotaged etcd member listens in plaintext (the running
// sabotage plaintextEtcdListener of the security suite's negative control).
const PlaintextEtcdPort = 2378

func defaultSecurity() SecuritySpec {
	return SecuritySpec{CertExpiryWindow: dur(30 * 24 * time.Hour)}
}

// maxCertExpiryWindow: a year's notice is the most a rotation policy asks for (kubeadm's
// certificates live one year).
const maxCertExpiryWindow = 365 * 24 * time.Hour

func (s SecuritySpec) validate(v *violations) {
	if w := s.CertExpiryWindow; w.Duration <= 0 || w.Duration > maxCertExpiryWindow {
		v.invalid("security.certExpiryWindow", w, "must be positive and at most %s", maxCertExpiryWindow)
	}
}

// refuseInFile adds a violation for every switch a Spec file sets: a sabotage is applied
// by hachaos itself, to a running topology (HACHAOS_SABOTAGE, make
// chaos-negative-running), where every report marks the run as not a real one. Set in a
// file, it would build a broken cluster whose results nothing flags.
func (s Sabotage) refuseInFile(v *violations) {
	t := reflect.ValueOf(s)
	for i := range t.NumField() {
		if f := t.Field(i); f.Kind() == reflect.Bool && f.Bool() {
			name, _, _ := strings.Cut(t.Type().Field(i).Tag.Get("json"), ",")
			v.forbidden("sabotage."+name, "a negative control's switch, never set in a Spec file: hachaos applies it to a running topology (HACHAOS_SABOTAGE=%s, make chaos-negative-running), and every report then says the run is not a real one", name)
		}
	}
}
