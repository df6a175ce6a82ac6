package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/topology"
)

// EtcdAccess is how the harness reaches the etcd members with the cluster's own TLS material.
type EtcdAccess struct {
	// Members maps a member's name (as etcd knows it) to its client URL, reachable from the host.
	Members map[string]string
	// TLS is a client configuration trusted by every member (the API servers' client identity).
	TLS *tls.Config
}

// Client connects to the given client URLs (every member's when none are given) with
// the cluster's TLS material. Its logger is silent: the harness records errors itself,
// and the client's retry warnings would flood a run's output while members are down.
func (e EtcdAccess) Client(endpoints ...string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		endpoints = e.Endpoints()
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: e.TLS, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return c, nil
}

// EtcdClientTLS is the client configuration of a cluster's etcd identity: trusting the
// etcd CA (caPEM), presenting the certificate and key (kubeadm's API server etcd client).
func EtcdClientTLS(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("etcd CA certificate is not valid PEM")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// MemberClient asks one etcd member for its status on one kept-alive connection.
// clientv3's Status(endpoint) dials a new mutual-TLS connection for every call: at the
// recorder's pace (three members, ten times a second) those handshakes cost the etcd
// members more CPU than the traffic they served, on a machine where a failover has no
// CPU to spare.
type MemberClient struct {
	client      *clientv3.Client
	maintenance clientv3.Maintenance
}

// MemberClient connects to the member at url alone. The connection comes back within
// about a second of the member (gRPC's default reconnect backoff grows to two minutes,
// which would hide a restarted member from the recorder for tens of seconds).
func (e EtcdAccess) MemberClient(url string) (*MemberClient, error) {
	reconnect := grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
		MinConnectTimeout: time.Second,
	})
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, TLS: e.TLS, DialTimeout: 2 * time.Second,
		DialOptions: []grpc.DialOption{reconnect}, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client for member %s: %w", url, err)
	}
	remote := pb.NewMaintenanceClient(c.ActiveConnection())
	return &MemberClient{client: c, maintenance: clientv3.NewMaintenanceFromMaintenanceClient(remote, c)}, nil
}

// Status is the member's status as it reports it.
func (m *MemberClient) Status(ctx context.Context) (*clientv3.StatusResponse, error) {
	return m.maintenance.Status(ctx, "")
}

// Close closes the connection.
func (m *MemberClient) Close() error { return m.client.Close() }

// Endpoints lists the members' client URLs.
func (e EtcdAccess) Endpoints() []string {
	out := make([]string, 0, len(e.Members))
	for _, url := range e.Members {
		out = append(out, url)
	}
	return out
}

// LoadBalancerAccess is how the harness reaches the load balancer in front of the API servers.
type LoadBalancerAccess struct {
	// Server is the LB's API URL as clients on the host use it.
	Server string
	// StatsAddress is host:port of HAProxy's stats socket (TCP); empty when the LB is not
	// HAProxy managed by hachaos (then backend states cannot be read).
	StatsAddress string
}

// Provider brings a topology up and down on some infrastructure and gives the harness
// access to it. Modelled on kind's internal provider: each method has a one-line contract.
type Provider interface {
	// Create brings the topology up from nothing; it fails if a cluster of that name exists.
	Create(ctx context.Context) error
	// Exists reports whether any part of a cluster with the Spec's name exists.
	Exists(ctx context.Context) (bool, error)
	// Delete removes everything the topology created; a cluster that is already gone is success.
	Delete(ctx context.Context) error
	// Nodes lists the nodes with the given role, sorted by name.
	Nodes(ctx context.Context, role topology.Role) ([]topology.Node, error)
	// RESTConfig is a cluster-admin client configuration that goes through the load balancer.
	RESTConfig(ctx context.Context) (*rest.Config, error)
	// APIServerConfigs is one cluster-admin configuration per API server, bypassing the
	// load balancer, keyed by control-plane node name.
	APIServerConfigs(ctx context.Context) (map[string]*rest.Config, error)
	// Etcd is client access to every etcd member with the cluster's TLS material.
	Etcd(ctx context.Context) (EtcdAccess, error)
	// LoadBalancer is access to the load balancer in front of the API servers.
	LoadBalancer(ctx context.Context) (LoadBalancerAccess, error)
	// Exec runs a command in a node and returns its standard output.
	Exec(ctx context.Context, node string, stdin io.Reader, cmd ...string) ([]byte, error)
	// NodeAction changes a node's lifecycle state (stop, start, pause, unpause, crash);
	// acting on a node already in the target state is success.
	NodeAction(ctx context.Context, node string, action topology.NodeAction) error
	// LimitCPUs caps a node's machine at cpus cores; 0 lifts the cap.
	LimitCPUs(ctx context.Context, node string, cpus float64) error
	// NodeState is the lifecycle state of a node's machine, as its runtime reports it.
	NodeState(ctx context.Context, node string) (topology.NodeState, error)
	// CollectLogs writes node, component and container logs below dir.
	CollectLogs(ctx context.Context, dir string) error
	// Capabilities says what the provider can do beyond the Kubernetes API, and why not
	// the rest; a fault that needs what it lacks is skipped with that reason.
	Capabilities() topology.Capabilities
	// Recorded is the Spec the existing cluster was created from, if hachaos created it.
	Recorded() (topology.Spec, bool)
}

// Local is a Provider with what hachaos keeps on this machine for its topology, in
// its state folder: the ledger of faults in effect, the kubeconfig, the run lock.
type Local interface {
	Provider
	// LedgerPath is the file where faults are recorded until they are recovered.
	LedgerPath() string
	// KubeconfigPath is the topology's kubeconfig.
	KubeconfigPath() string
	// Lock takes the topology's run lock (LockStateDir).
	Lock() (unlock func(), err error)
}

// Attacher is a provider of a cluster hachaos did not create. Up never creates,
// recreates or deletes such a cluster: it attaches (checks the cluster is what the Spec
// says and starts what hachaos runs in it) and waits for the readiness gate; Detach
// removes what Attach started, and nothing else.
type Attacher interface {
	Attach(ctx context.Context) error
	Detach(ctx context.Context) error
}

// VersionStager is what a provider offers to upgrade its topology in place: another
// Kubernetes version's kubeadm, kubelet and kubectl (under StagedBinDir) and its
// control-plane images made available in every node, beside what runs — kinder bundles
// both versions in one node image; a provider may copy them in.
// CanStage says, without changing anything, what StageVersion would miss: a
// certification checks it before its first hour of suites, not after.
type VersionStager interface {
	StageVersion(ctx context.Context, version string, progress topology.Progress) error
	CanStage(ctx context.Context, version string) error
}

// EtcdInstaller is a provider whose external etcd members run a binary it can replace:
// EtcdVersion is the etcd version Kubernetes version's kubeadm recommends (what the
// image build compiled for it), InstallEtcd puts that binary into member, which must be
// stopped (its data stays where it was: the member rejoins as itself, upgraded).
type EtcdInstaller interface {
	EtcdVersion(ctx context.Context, kubernetesVersion string) (string, error)
	InstallEtcd(ctx context.Context, member, kubernetesVersion string) error
}

// StagedBinDir is where a staged version's binaries are in every node.
func StagedBinDir(version string) string { return "/opt/hachaos/upgrade/" + version }
