package kind

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// stagedBinaries are the binaries an in-place upgrade needs in every node.
var stagedBinaries = []string{"kubeadm", "kubelet", "kubectl"}

// StageVersion implements cluster.VersionStager offline: version's binaries come from
// the image build's cache (scripts/build-images.sh VERSION), its images from the local
// Docker (the same build), saved once and imported into every node's containerd under
// the names kubeadm asks for.
func (p *Provider) StageVersion(ctx context.Context, version string, progress topology.Progress) error {
	bin := filepath.Join(cacheRoot(), "bin", version)
	images, err := p.stageableImages(ctx, version)
	if err != nil {
		return err
	}
	archive, err := p.saveImages(ctx, images)
	if err != nil {
		return err
	}
	defer os.Remove(archive)
	nodes, err := p.Nodes(ctx, "")
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Role != topology.RoleControlPlane && n.Role != topology.RoleWorker {
			continue
		}
		progress("  staging Kubernetes %s in %s (binaries, images)", version, n.Name)
		if err := p.stageIn(ctx, n.Name, bin, version, archive); err != nil {
			return err
		}
	}
	return nil
}

// CanStage implements cluster.VersionStager: version's binaries in the image build's
// cache and its images in the local Docker.
func (p *Provider) CanStage(ctx context.Context, version string) error {
	_, err := p.stageableImages(ctx, version)
	return err
}

// stageableImages checks that version's binaries are in the image build's cache and the
// images its kubeadm lists in the local Docker, and returns those images.
func (p *Provider) stageableImages(ctx context.Context, version string) ([]string, error) {
	bin := filepath.Join(cacheRoot(), "bin", version)
	for _, b := range stagedBinaries {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("Kubernetes %s's %s is not in %s: build it first (scripts/build-images.sh %s): %w", version, b, bin, version, err)
		}
	}
	images, err := exec.CommandContext(ctx, filepath.Join(bin, "kubeadm"), "config", "images", "list", "--kubernetes-version", version).Output()
	if err != nil {
		return nil, fmt.Errorf("list Kubernetes %s's images: %w", version, err)
	}
	list := strings.Fields(string(images))
	for _, img := range list {
		if !p.docker.imageExists(ctx, img) {
			return nil, fmt.Errorf("image %s is not in the local Docker: build it first (scripts/build-images.sh %s)", img, version)
		}
	}
	return list, nil
}

// saveImages writes images to one archive (docker save), returning its path.
func (p *Provider) saveImages(ctx context.Context, images []string) (string, error) {
	f, err := os.CreateTemp("", "hachaos-stage-*.tar")
	if err != nil {
		return "", err
	}
	defer f.Close()
	res, err := p.docker.cli.ImageSave(ctx, images)
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("save %v: %w", images, err)
	}
	defer res.Close()
	if _, err := io.Copy(f, res); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("save %v: %w", images, err)
	}
	return f.Name(), nil
}

// stageIn copies the binaries into node's StagedBinDir and imports the image archive.
func (p *Provider) stageIn(ctx context.Context, node, bin, version, archive string) error {
	dir := cluster.StagedBinDir(version)
	for _, b := range stagedBinaries {
		f, err := os.Open(filepath.Join(bin, b))
		if err != nil {
			return err
		}
		_, err = p.docker.exec(ctx, node, f, []string{"sh", "-c", fmt.Sprintf("mkdir -p %[1]s && cat > %[1]s/%[2]s.new && chmod 0755 %[1]s/%[2]s.new && mv %[1]s/%[2]s.new %[1]s/%[2]s", dir, b)})
		f.Close()
		if err != nil {
			return fmt.Errorf("copy %s into %s: %w", b, node, err)
		}
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := p.docker.exec(ctx, node, f, []string{"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "-"}); err != nil {
		return fmt.Errorf("import Kubernetes %s's images into %s: %w", version, node, err)
	}
	return nil
}

// cacheRoot is the image build's cache ($HACHAOS_CACHE, else ~/.cache/hachaos), as
// scripts/build-images.sh has it.
func cacheRoot() string {
	if dir := os.Getenv("HACHAOS_CACHE"); dir != "" {
		return dir
	}
	home, err := os.UserCacheDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, "hachaos")
}
