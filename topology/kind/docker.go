package kind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	hexec "github.com/hachaos/hachaos/internal/exec"
)

// Labels kind puts on its containers (kind finds containers by label, never by name).
const (
	kindClusterLabel = "io.x-k8s.kind.cluster"
	kindRoleLabel    = "io.x-k8s.kind.role"
)

// Labels hachaos puts on what it creates beside kind's nodes (external etcd members,
// the network), so Delete and the next run's cleanup find them.
const (
	hachaosClusterLabel = "io.hachaos.cluster"
	hachaosRoleLabel    = "io.hachaos.role"
)

// docker is the slice of the Docker Engine API the kind provider needs.
type docker struct{ cli *client.Client }

func newDocker() (*docker, error) {
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("connect to Docker: %w", err)
	}
	return &docker{cli: cli}, nil
}

// containersByLabel lists containers (running or not) carrying label=value.
func (d *docker) containersByLabel(ctx context.Context, label, value string) ([]container.Summary, error) {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", label+"="+value),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers with %s=%s: %w", label, value, err)
	}
	sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Names[0] < res.Items[j].Names[0] })
	return res.Items, nil
}

// limitCPUs caps a container at cpus cores (docker update --cpus).
func (d *docker) limitCPUs(ctx context.Context, name string, cpus float64) error {
	_, err := d.cli.ContainerUpdate(ctx, name, client.ContainerUpdateOptions{
		Resources: &container.Resources{NanoCPUs: int64(cpus * 1e9)},
	})
	if err != nil {
		return fmt.Errorf("limit container %s to %g CPUs: %w", name, cpus, err)
	}
	return nil
}

func (d *docker) inspect(ctx context.Context, name string) (container.InspectResponse, error) {
	res, err := d.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, fmt.Errorf("inspect container %s: %w", name, err)
	}
	return res.Container, nil
}

// ipOn is a container's IPv4 address on the named network.
func (d *docker) ipOn(ctx context.Context, name, network string) (netip.Addr, error) {
	c, err := d.inspect(ctx, name)
	if err != nil {
		return netip.Addr{}, err
	}
	if c.NetworkSettings == nil || c.NetworkSettings.Networks[network] == nil {
		return netip.Addr{}, fmt.Errorf("container %s is not on network %s", name, network)
	}
	return c.NetworkSettings.Networks[network].IPAddress, nil
}

// removeForce removes a container and its anonymous volumes; absent is success.
func (d *docker) removeForce(ctx context.Context, name string) error {
	_, err := d.cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// createAndStart creates a named container and starts it.
func (d *docker) createAndStart(ctx context.Context, opts client.ContainerCreateOptions) error {
	res, err := d.cli.ContainerCreate(ctx, opts)
	if err != nil {
		return fmt.Errorf("create container %s: %w", opts.Name, err)
	}
	if _, err := d.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", opts.Name, err)
	}
	return nil
}

// exec runs cmd in a container and returns stdout; a non-zero exit is an error that
// carries the command and its stderr, like internal/exec's RunError. Each run is told
// to internal/exec's trace (hachaos -v prints it) as the docker exec it is.
func (d *docker) exec(ctx context.Context, name string, stdin io.Reader, cmd []string) ([]byte, error) {
	started := time.Now()
	out, err := d.execUntraced(ctx, name, stdin, cmd)
	hexec.Traced(hexec.Command("docker", append([]string{"exec", name}, cmd...)...).String(), started, err)
	return out, err
}

func (d *docker) execUntraced(ctx context.Context, name string, stdin io.Reader, cmd []string) ([]byte, error) {
	created, err := d.cli.ExecCreate(ctx, name, client.ExecCreateOptions{
		Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: stdin != nil,
	})
	if err != nil {
		return nil, fmt.Errorf("exec %q in %s: %w", cmd, name, err)
	}
	att, err := d.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("attach to exec %q in %s: %w", cmd, name, err)
	}
	defer att.Close()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, stdin)
			_ = att.CloseWrite()
		}()
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		return nil, fmt.Errorf("read output of %q in %s: %w", cmd, name, err)
	}
	res, err := d.cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect exec %q in %s: %w", cmd, name, err)
	}
	if res.ExitCode != 0 {
		return stdout.Bytes(), fmt.Errorf("docker exec %s %q: exit %d\nstderr:\n%s", name, cmd, res.ExitCode, stderr.String())
	}
	return stdout.Bytes(), nil
}

func (d *docker) imageExists(ctx context.Context, image string) bool {
	_, err := d.cli.ImageInspect(ctx, image)
	return err == nil
}

// logs returns a container's combined log output.
func (d *docker) logs(ctx context.Context, name string) ([]byte, error) {
	rc, err := d.cli.ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", name, err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return out.Bytes(), fmt.Errorf("read logs of %s: %w", name, err)
	}
	return out.Bytes(), nil
}
