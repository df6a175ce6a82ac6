package rolling

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// upgradeExternalEtcd upgrades external etcd members, one at a time, to the etcd that
// to's kubeadm recommends, where it is newer than what a member runs (kubeadm upgrades
// stacked members itself and leaves external ones to the operator). Each member is
// stopped gracefully through the fault ledger (etcd hands its leadership over on
// SIGTERM), its binary replaced, started again, and waited for until it answers with
// the new version and the readiness gate passes: one step each on the timeline. etcd
// supports this rolling upgrade one minor version at a time; meanwhile the cluster runs
// at its oldest member's version. The API servers list every external member, so no
// step gets a disruption allowance: the Spec's budget holds throughout.
func (in Input) upgradeExternalEtcd(ctx context.Context, to string) error {
	if in.Spec.Etcd.Mode != topology.EtcdExternal {
		return nil
	}
	installer, ok := in.Provider.(cluster.EtcdInstaller)
	if !ok {
		return fmt.Errorf("external etcd: the provider cannot replace its members' etcd (no cluster.EtcdInstaller)")
	}
	target, err := installer.EtcdVersion(ctx, to)
	if err != nil {
		return err
	}
	access, err := in.Provider.Etcd(ctx)
	if err != nil {
		return err
	}
	members := make([]string, 0, len(access.Members))
	for name := range access.Members {
		members = append(members, name)
	}
	sort.Strings(members)
	for _, member := range members {
		running, err := memberVersion(ctx, access, member)
		if err != nil {
			return err
		}
		upgrade, err := etcdUpgradeNeeded(running, target)
		if err != nil {
			return fmt.Errorf("external etcd member %s: %w", member, err)
		}
		if !upgrade {
			in.Progress("  %s runs etcd %s; Kubernetes %s's is %s: nothing to upgrade", member, running, to, target)
			continue
		}
		name := fmt.Sprintf("%s: etcd %s → %s", member, running, target)
		if err := in.step(ctx, name, func(ctx context.Context) error {
			return in.upgradeEtcdMember(ctx, installer, access, member, to, target)
		}); err != nil {
			return err
		}
	}
	return nil
}

// etcdUpgradeNeeded says whether a member running etcd running must be upgraded to
// target: target is newer, by one minor version at most (etcd's rule).
func etcdUpgradeNeeded(running, target string) (bool, error) {
	r, err := version.ParseSemantic(running)
	if err != nil {
		return false, fmt.Errorf("runs etcd %q, not a version", running)
	}
	t, err := version.ParseSemantic(target)
	if err != nil {
		return false, fmt.Errorf("the target etcd %q is not a version", target)
	}
	if !r.LessThan(t) {
		return false, nil
	}
	if t.Major() != r.Major() || t.Minor() > r.Minor()+1 {
		return false, fmt.Errorf("runs etcd %s: etcd upgrades one minor version at a time, %s is not one", running, target)
	}
	return true, nil
}

// upgradeEtcdMember stops member, installs to's etcd, starts it, and waits for it to
// answer with target and for the gate. A member stopped here is started again whatever
// fails after the stop (and by the next run's recovery if hachaos is killed meanwhile).
func (in Input) upgradeEtcdMember(ctx context.Context, installer cluster.EtcdInstaller, access cluster.EtcdAccess, member, to, target string) error {
	stop, err := fault.NewEtcdMemberStop(in.Provider, member, topology.EtcdExternal, in.Spec.Waits.ComponentRestart.Duration)
	if err != nil {
		return err
	}
	stopped, err := in.injectThroughLedger(ctx, stop, "etcd member "+member+" still runs")
	if err != nil {
		return in.withRecovery(ctx, stopped, err)
	}
	if err := installer.InstallEtcd(ctx, member, to); err != nil {
		return in.withRecovery(ctx, stopped, err)
	}
	since := time.Now()
	if err := stopped.Recover(ctx); err != nil {
		return in.withRecovery(ctx, stopped, err) // once more, past a Ctrl-C
	}
	if err := in.awaitMemberVersion(ctx, access, member, target); err != nil {
		return err
	}
	in.Progress("  %s answers as etcd %s after %s", member, target, time.Since(since).Round(100*time.Millisecond))
	w := in.Spec.Waits
	return cluster.NewGate(in.Spec, in.Provider).Wait(ctx, w.ClusterReady.Duration, w.Poll.Duration, in.Progress)
}

// withRecovery recovers what was stopped (if anything) and returns err, with the
// recovery's error if that failed too. It recovers after Ctrl-C as well (ctx cancelled),
// within waits.componentRestart; what it cannot recover stays in the fault ledger for
// the next run or `hachaos recover`.
func (in Input) withRecovery(ctx context.Context, stopped *fault.Injected, err error) error {
	if stopped == nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.Spec.Waits.ComponentRestart.Duration)
	defer cancel()
	if rerr := stopped.Recover(rctx); rerr != nil {
		return fmt.Errorf("%w; and recovering it: %v (the next run or `hachaos recover` retries)", err, rerr)
	}
	return err
}

// awaitMemberVersion waits up to waits.componentRestart for member to report target.
func (in Input) awaitMemberVersion(ctx context.Context, access cluster.EtcdAccess, member, target string) error {
	w := in.Spec.Waits
	err := probe.PollUntil(ctx, w.ComponentRestart.Duration, w.Poll.Duration/4, memberStatusTimeout, func(ctx context.Context) error {
		got, err := memberVersion(ctx, access, member)
		if err == nil && got != target {
			err = fmt.Errorf("answers as %s", got)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("etcd member %s did not answer as %s within waits.componentRestart (%s): %w", member, target, w.ComponentRestart, err)
	}
	return nil
}

// memberStatusTimeout bounds one status call to a member.
const memberStatusTimeout = 5 * time.Second

// memberVersion is the etcd version member reports.
func memberVersion(ctx context.Context, access cluster.EtcdAccess, member string) (string, error) {
	url, ok := access.Members[member]
	if !ok {
		return "", fmt.Errorf("no etcd member %s", member)
	}
	c, err := access.MemberClient(url)
	if err != nil {
		return "", err
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, memberStatusTimeout)
	defer cancel()
	st, err := c.Status(sctx)
	if err != nil {
		return "", fmt.Errorf("etcd member %s's status: %w", member, err)
	}
	return st.Version, nil
}
