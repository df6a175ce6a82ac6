package kind

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

const etcdPKIMount = "/etc/etcd/pki"

func (p *Provider) pkiDir() string { return filepath.Join(p.stateDir, "pki") }

func (p *Provider) etcdMemberName(i int) string { return fmt.Sprintf("%s-etcd%d", p.spec.Name, i+1) }

// createExternalEtcd generates the PKI and starts one etcd container per member at fixed
// addresses; it returns the client URLs the API servers will use (all of them).
func (p *Provider) createExternalEtcd(ctx context.Context, subnet netip.Prefix) (endpoints []string, err error) {
	defer topology.StepTimer(p.progress, fmt.Sprintf("external etcd: %d members with their own PKI", p.spec.Etcd.Members))(&err)
	members := make([]etcdMemberIdentity, p.spec.Etcd.Members)
	var peers []string
	for i := range members {
		addr := fixedAddress(subnet, i)
		members[i] = etcdMemberIdentity{Name: p.etcdMemberName(i), IP: addr.AsSlice()}
		peers = append(peers, fmt.Sprintf("%s=https://%s:2380", members[i].Name, addr))
		endpoints = append(endpoints, fmt.Sprintf("https://%s:2379", addr))
	}
	if err := p.writeEtcdPKI(members); err != nil {
		return nil, err
	}
	for i, m := range members {
		opts := p.etcdContainer(m, fixedAddress(subnet, i), strings.Join(peers, ","))
		if err := p.docker.createAndStart(ctx, opts); err != nil {
			return nil, err
		}
	}
	return endpoints, nil
}

// writeEtcdPKI lays out pki/: the CA and every certificate, then one folder per mount so
// each container sees only what it needs (the CA key never leaves the host).
func (p *Provider) writeEtcdPKI(members []etcdMemberIdentity) error {
	dir := p.pkiDir()
	pki, err := newEtcdPKI(dir)
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := pki.issueMember(m); err != nil {
			return err
		}
		if err := bundle(dir, m.Name, map[string]string{"ca.crt": "ca.crt", "server.crt": m.Name + ".crt", "server.key": m.Name + ".key"}); err != nil {
			return err
		}
	}
	if err := pki.issueClient(); err != nil {
		return err
	}
	if err := bundle(dir, "apiserver", map[string]string{"ca.crt": "ca.crt", "client.crt": "client.crt", "client.key": "client.key"}); err != nil {
		return err
	}
	// what kind insists on copying between control planes (see kindEtcdCADir): the CA
	// certificate and a key that is not the CA's
	if _, err := newEtcdPKI(filepath.Join(dir, "throwaway")); err != nil {
		return err
	}
	return bundle(dir, "kind-copy", map[string]string{"ca.crt": "ca.crt", "ca.key": "throwaway/ca.key"})
}

// bundle copies files (dst name → src path relative to dir) into dir/name.
func bundle(dir, name string, files map[string]string) error {
	target := filepath.Join(dir, name)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", target, err)
	}
	for dst, src := range files {
		data, err := os.ReadFile(filepath.Join(dir, src))
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		if err := os.WriteFile(filepath.Join(target, dst), data, 0o600); err != nil {
			return fmt.Errorf("write %s/%s: %w", name, dst, err)
		}
	}
	return nil
}

func (p *Provider) etcdContainer(m etcdMemberIdentity, addr netip.Addr, initialCluster string) client.ContainerCreateOptions {
	cert := func(f string) string { return etcdPKIMount + "/" + f }
	listen := "https://0.0.0.0:2379"
	args := []string{
		"--name=" + m.Name, "--data-dir=/var/lib/etcd",
		"--listen-client-urls=" + listen, fmt.Sprintf("--advertise-client-urls=https://%s:2379", addr),
		"--listen-peer-urls=https://0.0.0.0:2380", fmt.Sprintf("--initial-advertise-peer-urls=https://%s:2380", addr),
		"--initial-cluster=" + initialCluster, "--initial-cluster-state=new", "--initial-cluster-token=" + p.spec.Name,
		"--listen-metrics-urls=http://127.0.0.1:2381",
		"--client-cert-auth=true", "--trusted-ca-file=" + cert("ca.crt"),
		"--cert-file=" + cert("server.crt"), "--key-file=" + cert("server.key"),
		"--peer-client-cert-auth=true", "--peer-trusted-ca-file=" + cert("ca.crt"),
		"--peer-cert-file=" + cert("server.crt"), "--peer-key-file=" + cert("server.key"),
	}
	return client.ContainerCreateOptions{
		Name: m.Name,
		Config: &container.Config{
			Image: p.spec.Etcd.Image, Hostname: m.Name,
			Entrypoint: []string{"/usr/local/bin/etcd"}, Cmd: args,
			Labels: map[string]string{hachaosClusterLabel: p.spec.Name, hachaosRoleLabel: string(topology.RoleEtcd)},
		},
		HostConfig: &container.HostConfig{
			Binds: []string{filepath.Join(p.pkiDir(), m.Name) + ":" + etcdPKIMount + ":ro"},
			// a crashed member comes back by itself, as a static Pod would under the kubelet
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			networkName(p.spec.Name): {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: addr}},
		}},
	}
}

// Etcd is access to every member with the API servers' own client identity.
func (p *Provider) Etcd(ctx context.Context) (cluster.EtcdAccess, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.etcdAccess != nil {
		return *p.etcdAccess, nil
	}
	access, err := p.loadEtcdAccess(ctx)
	if err != nil {
		return cluster.EtcdAccess{}, err
	}
	p.etcdAccess = &access
	return access, nil
}

func (p *Provider) loadEtcdAccess(ctx context.Context) (cluster.EtcdAccess, error) {
	role := topology.RoleControlPlane
	var caPEM, certPEM, keyPEM []byte
	var err error
	if p.spec.Etcd.Mode == topology.EtcdExternal {
		role = topology.RoleEtcd
		caPEM, certPEM, keyPEM, err = readFiles(filepath.Join(p.pkiDir(), "apiserver"), "ca.crt", "client.crt", "client.key")
	} else {
		caPEM, certPEM, keyPEM, err = p.stackedEtcdCredentials(ctx)
	}
	if err != nil {
		return cluster.EtcdAccess{}, err
	}
	tlsConfig, err := cluster.EtcdClientTLS(caPEM, certPEM, keyPEM)
	if err != nil {
		return cluster.EtcdAccess{}, err
	}
	nodes, err := p.Nodes(ctx, role)
	if err != nil {
		return cluster.EtcdAccess{}, err
	}
	access := cluster.EtcdAccess{Members: map[string]string{}, TLS: tlsConfig}
	for _, n := range nodes {
		access.Members[n.Name] = fmt.Sprintf("https://%s:2379", n.IP)
	}
	return access, nil
}

// stackedEtcdCredentials reads kubeadm's etcd CA and the API server's etcd client
// certificate from the first control plane.
func (p *Provider) stackedEtcdCredentials(ctx context.Context) (ca, cert, key []byte, err error) {
	names := p.controlPlaneNames(ctx)
	if len(names) == 0 {
		return nil, nil, nil, fmt.Errorf("no control-plane node to read etcd credentials from")
	}
	read := func(path string) []byte {
		if err != nil {
			return nil
		}
		var out []byte
		out, err = p.docker.exec(ctx, names[0], nil, []string{"cat", path})
		return out
	}
	ca = read("/etc/kubernetes/pki/etcd/ca.crt")
	cert = read("/etc/kubernetes/pki/apiserver-etcd-client.crt")
	key = read("/etc/kubernetes/pki/apiserver-etcd-client.key")
	return ca, cert, key, err
}

func readFiles(dir string, names ...string) (a, b, c []byte, err error) {
	out := make([][]byte, len(names))
	for i, n := range names {
		if out[i], err = os.ReadFile(filepath.Join(dir, n)); err != nil {
			return nil, nil, nil, fmt.Errorf("read %s: %w", n, err)
		}
	}
	return out[0], out[1], out[2], nil
}
