package cluster

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/hachaos/hachaos/topology"
)

// reuseGrace is how long an existing cluster may take to pass the gate before it is
// recreated: a reused cluster may still be settling after the previous run's last fault
// (or the faults just recovered from a killed run), and one restart may wait for
// another (an API server for its etcd member): 2 × waits.componentRestart.
func reuseGrace(spec topology.Spec) time.Duration { return 2 * spec.Waits.ComponentRestart.Duration }

// Up makes spec's topology run and pass the readiness gate. An existing cluster of the
// same name is reused when it was created from an identical Spec and passes the gate;
// otherwise it is deleted and created anew. It reports whether it reused one. A
// cluster hachaos did not create (an Attacher) is only ever attached to, never created
// or deleted; it counts as reused.
func Up(ctx context.Context, spec topology.Spec, p Provider, progress topology.Progress) (reused bool, err error) {
	gate := NewGate(spec, p)
	if a, ok := p.(Attacher); ok {
		return true, attach(ctx, spec, a, gate, progress)
	}
	exists, err := p.Exists(ctx)
	if err != nil {
		return false, err
	}
	if exists {
		if reason := reuseBlocker(ctx, spec, p, gate, progress); reason == "" {
			progress("reusing the running cluster %q", spec.Name)
			return true, nil
		} else {
			progress("existing cluster %q cannot be reused (%s); recreating it", spec.Name, reason)
		}
		if err := p.Delete(ctx); err != nil {
			return false, err
		}
	}
	if err := p.Create(ctx); err != nil {
		return false, err
	}
	done := topology.StepTimer(progress, "readiness gate")
	err = gate.Wait(ctx, spec.Waits.ClusterReady.Duration, spec.Waits.Poll.Duration, progress)
	done(&err)
	return false, err
}

// attach brings a cluster hachaos did not create into use: attached, then the gate.
func attach(ctx context.Context, spec topology.Spec, a Attacher, gate *Gate, progress topology.Progress) error {
	if err := a.Attach(ctx); err != nil {
		return err
	}
	done := topology.StepTimer(progress, "readiness gate")
	err := gate.Wait(ctx, spec.Waits.ClusterReady.Duration, spec.Waits.Poll.Duration, progress)
	done(&err)
	return err
}

func reuseBlocker(ctx context.Context, spec topology.Spec, p Provider, gate *Gate, progress topology.Progress) string {
	recorded, ok := p.Recorded()
	switch {
	case !ok:
		return "not created by hachaos, or its state folder is gone"
	case !reflect.DeepEqual(clusterPart(recorded), clusterPart(spec)):
		return "created from a different topology.Spec"
	}
	if err := gate.Wait(ctx, reuseGrace(spec), spec.Waits.Poll.Duration, progress); err != nil {
		return fmt.Sprintf("not ready: %v", err)
	}
	return ""
}

// clusterPart is the Spec without what does not shape the cluster (the certification
// budget is only read by comparisons, the disruption budgets only by judges, the node
// agent only on existing clusters), so
// changing such a value keeps the cluster.
func clusterPart(s topology.Spec) topology.Spec {
	s.Certification = topology.CertificationSpec{}
	s.Disruption = topology.DisruptionSpec{}
	s.Agent = topology.AgentSpec{} // the node agent runs on existing clusters only
	return s
}
