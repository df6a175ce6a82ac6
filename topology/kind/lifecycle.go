package kind

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	hexec "github.com/hachaos/hachaos/internal/exec"
	"github.com/hachaos/hachaos/topology"
)

// stopGraceSeconds is how long a stopped node gets to shut down before SIGKILL; a kind
// node runs systemd, which stops the kubelet and containerd within a few seconds.
const stopGraceSeconds = 10

// NodeAction changes a node container's state. Each action first checks the state it
// leads to, so repeating it (as an idempotent Recover does) is success.
func (p *Provider) NodeAction(ctx context.Context, node string, action topology.NodeAction) (err error) {
	defer func(started time.Time) { // hachaos -v prints it, as it prints a docker exec
		hexec.Traced(fmt.Sprintf("docker %s %s (through Docker's API)", action, node), started, err)
	}(time.Now())
	if !p.ownsNode(ctx, node) {
		return fmt.Errorf("%s %s: not a node of topology %q", action, node, p.spec.Name)
	}
	state, err := p.docker.inspect(ctx, node)
	if err != nil {
		return err
	}
	running, paused := state.State.Running, state.State.Paused
	switch action {
	case topology.NodeStop:
		if !running {
			return nil
		}
		if paused { // a paused container cannot be stopped cleanly
			if err := p.unpause(ctx, node); err != nil {
				return err
			}
		}
		grace := stopGraceSeconds
		_, err = p.docker.cli.ContainerStop(ctx, node, client.ContainerStopOptions{Timeout: &grace})
	case topology.NodeStart:
		if running {
			return nil
		}
		_, err = p.docker.cli.ContainerStart(ctx, node, client.ContainerStartOptions{})
	case topology.NodePause:
		if !running || paused {
			return nil
		}
		_, err = p.docker.cli.ContainerPause(ctx, node, client.ContainerPauseOptions{})
	case topology.NodeUnpause:
		if !paused {
			return nil
		}
		err = p.unpause(ctx, node)
	case topology.NodeCrash:
		if !running {
			return nil
		}
		// SIGKILL from the host, not `docker kill`: Docker counts a kill through its API
		// as a manual stop and would not apply the restart policy, while a crash must.
		// The kind provider drives the local Docker daemon, so its PIDs are ours.
		err = syscall.Kill(state.State.Pid, syscall.SIGKILL)
	default:
		return fmt.Errorf("unknown node action %q", action)
	}
	if err != nil {
		return fmt.Errorf("%s node %s: %w", action, node, err)
	}
	return nil
}

func (p *Provider) unpause(ctx context.Context, node string) error {
	_, err := p.docker.cli.ContainerUnpause(ctx, node, client.ContainerUnpauseOptions{})
	return err
}

// ownsNode reports whether node is one of this topology's containers: faults act on the
// run's own containers only.
func (p *Provider) ownsNode(ctx context.Context, node string) bool {
	nodes, err := p.Nodes(ctx, "")
	return err == nil && containsNode(nodes, node)
}

// NodeState implements cluster.Provider from the container's state.
func (p *Provider) NodeState(ctx context.Context, node string) (topology.NodeState, error) {
	if !p.ownsNode(ctx, node) {
		return topology.NodeState{}, fmt.Errorf("state of %s: not a node of topology %q", node, p.spec.Name)
	}
	c, err := p.docker.inspect(ctx, node)
	if err != nil {
		return topology.NodeState{}, err
	}
	if c.State == nil {
		return topology.NodeState{}, fmt.Errorf("state of %s: the runtime reports none", node)
	}
	started, err := time.Parse(time.RFC3339Nano, c.State.StartedAt)
	if err != nil {
		return topology.NodeState{}, fmt.Errorf("state of %s: start time %q: %w", node, c.State.StartedAt, err)
	}
	return topology.NodeState{Running: c.State.Running, Paused: c.State.Paused, StartedAt: started}, nil
}
