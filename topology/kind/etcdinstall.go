package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"github.com/moby/moby/client"

	"github.com/hachaos/hachaos/topology"
)

// etcdBinaryInMember is where an external member's container runs etcd from (the
// entrypoint of the image scripts/build-images.sh builds).
const etcdBinaryInMember = "usr/local/bin/etcd"

// etcdVersionLine is the line of `etcd --version` that names the version.
var etcdVersionLine = regexp.MustCompile(`(?m)^etcd Version: (\S+)$`)

// cachedEtcd is the etcd the image build compiled for a Kubernetes version.
func cachedEtcd(kubernetesVersion string) string {
	return filepath.Join(cacheRoot(), "bin", kubernetesVersion, "etcd")
}

// EtcdVersion implements cluster.EtcdInstaller: the version the etcd compiled for
// kubernetesVersion prints (scripts/build-images.sh compiles the one its kubeadm lists).
func (p *Provider) EtcdVersion(ctx context.Context, kubernetesVersion string) (string, error) {
	bin := cachedEtcd(kubernetesVersion)
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("Kubernetes %s's etcd (%s --version): %w: build it first (scripts/build-images.sh %s)", kubernetesVersion, bin, err, kubernetesVersion)
	}
	return parseEtcdVersion(string(out))
}

// parseEtcdVersion reads the version from `etcd --version`'s output.
func parseEtcdVersion(out string) (string, error) {
	m := etcdVersionLine.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("etcd --version printed no 'etcd Version:' line: %q", out)
	}
	return m[1], nil
}

// InstallEtcd implements cluster.EtcdInstaller: the etcd compiled for kubernetesVersion
// copied over the one member's container runs. The container must be stopped: a
// running etcd keeps its old binary, and a binary replaced under it would be a restart
// nobody saw. The data directory is in the container and stays.
func (p *Provider) InstallEtcd(ctx context.Context, member, kubernetesVersion string) error {
	if p.spec.Etcd.Mode != topology.EtcdExternal {
		return fmt.Errorf("install etcd in %s: only external members run in their own container (etcd.mode is %s)", member, p.spec.Etcd.Mode)
	}
	if !p.ownsNode(ctx, member) {
		return fmt.Errorf("install etcd in %s: not a node of topology %q", member, p.spec.Name)
	}
	state, err := p.docker.inspect(ctx, member)
	if err != nil {
		return err
	}
	if state.State.Running {
		return fmt.Errorf("install etcd in %s: the member runs; stop it first", member)
	}
	data, err := os.ReadFile(cachedEtcd(kubernetesVersion))
	if err != nil {
		return fmt.Errorf("Kubernetes %s's etcd: %w: build it first (scripts/build-images.sh %s)", kubernetesVersion, err, kubernetesVersion)
	}
	archive, err := singleFileTar(etcdBinaryInMember, data, 0o755)
	if err != nil {
		return err
	}
	if _, err := p.docker.cli.CopyToContainer(ctx, member, client.CopyToContainerOptions{DestinationPath: "/", Content: archive}); err != nil {
		return fmt.Errorf("copy Kubernetes %s's etcd into %s: %w", kubernetesVersion, member, err)
	}
	return nil
}

// singleFileTar is a tar archive of one file at path (relative to the root).
func singleFileTar(path string, data []byte, mode int64) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: mode, Size: int64(len(data)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	return &buf, tw.Close()
}
