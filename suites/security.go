package suites

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
	"github.com/hachaos/hachaos/verdict"
)

// SecuritySpecInput is what SecuritySpec checks.
type SecuritySpecInput struct {
	Spec     topology.Spec
	Provider cluster.Provider
	// ProbeBinary is a static hachaos-probe binary (cmd/hachaos-probe); it is copied into
	// control-plane nodes to reach endpoints that listen only on their loopback.
	ProbeBinary string
}

func (in SecuritySpecInput) validate() {
	Expect(in.Provider).NotTo(BeNil(), "SecuritySpecInput.Provider is required")
	Expect(in.Spec.Validate()).To(Succeed(), "SecuritySpecInput.Spec must be a valid Spec")
	Expect(in.ProbeBinary).To(BeARegularFile(), "SecuritySpecInput.ProbeBinary must be a built hachaos-probe")
}

// Every "refused" below is paired with a positive control on the same port (a health
// endpoint served, a trusted certificate accepted, or an HTTP answer over TLS), so a port
// that is simply closed can never pass as "refusing".

// SecuritySpec asserts the reference design's "certificates and authentication" pillar
// on the live cluster: TLS on every component port, client certificates required by
// etcd, no anonymous access beyond health endpoints, end-to-end TLS through the load
// balancer, and no certificate about to expire. Each check records what was offered to
// which port and what answered as a report entry.
func SecuritySpec(inputGetter func() SecuritySpecInput) {
	var (
		in      SecuritySpecInput
		restCfg *rest.Config
		client  kubernetes.Interface
		prober  *probe.Prober
	)
	BeforeEach(func(ctx SpecContext) {
		in = inputGetter()
		in.validate()
		expectEnvironmentReady(ctx, in.Spec, in.Provider) // after a fault spec, wait for the cluster to heal
		var err error
		restCfg, err = in.Provider.RESTConfig(ctx)
		Expect(err).NotTo(HaveOccurred())
		client = kubernetes.NewForConfigOrDie(restCfg)
		prober = topologyProber(ctx, in.Provider)
		judging() // what fails from here on is a security property
	})

	It("etcd: the client port refuses plaintext and untrusted clients and accepts the API servers' certificate", func(ctx SpecContext) {
		access, err := in.Provider.Etcd(ctx)
		Expect(err).NotTo(HaveOccurred())
		foreign, err := probe.ForeignClientCertificate()
		Expect(err).NotTo(HaveOccurred())
		for member, memberURL := range access.Members {
			hostport := strings.TrimPrefix(memberURL, "https://")
			attempts := []probe.Attempt{
				prober.Get(ctx, "http://"+hostport+"/health", "plaintext HTTP", nil),
				prober.Get(ctx, memberURL+"/health", "TLS, no client certificate", withCerts(access.TLS)),
				prober.Get(ctx, memberURL+"/health", "TLS, client certificate from a foreign CA", withCerts(access.TLS, foreign)),
			}
			accepted := prober.Get(ctx, memberURL+"/health", "TLS, the API servers' client certificate", access.TLS)
			evidence("etcd client port of "+member, append(attempts, accepted))
			Expect(accepted.Served()).To(BeTrue(), "etcd member %s refused the API servers' certificate: %s", member, accepted)
			for _, a := range attempts {
				Expect(a.Refused()).To(BeTrue(), "etcd member %s served %s", member, a)
			}
		}
		for member, listen := range etcdClientListeners(ctx, in, client) {
			for _, u := range listen {
				if strings.HasPrefix(u, "https://") {
					continue
				}
				served := plaintextEtcdEvidence(ctx, prober, in, member, u)
				Fail(fmt.Sprintf("etcd member %s listens for clients in plaintext on %s (%s)", member, u, served))
			}
		}
	})

	It("etcd: the peer port requires a peer certificate from the etcd CA", func(ctx SpecContext) {
		access, err := in.Provider.Etcd(ctx)
		Expect(err).NotTo(HaveOccurred())
		foreign, err := probe.ForeignClientCertificate()
		Expect(err).NotTo(HaveOccurred())
		for member, memberURL := range access.Members {
			peer := peerHostPort(memberURL)
			attempts := []probe.Attempt{
				prober.Get(ctx, "http://"+peer+"/members", "plaintext HTTP", nil),
				prober.Get(ctx, "https://"+peer+"/members", "TLS, no client certificate", withCerts(access.TLS)),
				prober.Get(ctx, "https://"+peer+"/members", "TLS, client certificate from a foreign CA", withCerts(access.TLS, foreign)),
			}
			// positive control: a certificate the etcd CA signed opens the peer port
			accepted := prober.Get(ctx, "https://"+peer+"/members", "TLS, a certificate signed by the etcd CA", access.TLS)
			evidence("etcd peer port of "+member, append(attempts, accepted))
			Expect(accepted.Served()).To(BeTrue(), "etcd member %s peer port refused a certificate of the etcd CA: %s", member, accepted)
			for _, a := range attempts {
				Expect(a.Refused()).To(BeTrue(), "etcd member %s peer port served %s", member, a)
			}
		}
	})

	It("kube-apiserver: talks to etcd over TLS only", func(ctx SpecContext) {
		for _, node := range nodeNames(ctx, in.Provider, topology.RoleControlPlane) {
			servers := flagValue(ctx, client, "kube-apiserver-"+node, "--etcd-servers")
			AddReportEntry("etcd servers of kube-apiserver on "+node, servers)
			for _, s := range strings.Split(servers, ",") {
				Expect(s).To(HavePrefix("https://"), "kube-apiserver on %s reaches etcd without TLS: %s", node, s)
			}
		}
	})

	It("kube-apiserver: serving certificates chain to the cluster CA, cover every address clients use, and pass through the load balancer", func(ctx SpecContext) {
		roots := x509.NewCertPool()
		Expect(roots.AppendCertsFromPEM(restCfg.CAData)).To(BeTrue(), "cluster CA in the kubeconfig")
		cfgs, err := in.Provider.APIServerConfigs(ctx)
		Expect(err).NotTo(HaveOccurred())
		served := map[string]bool{}
		lbName := in.Spec.Name + "-external-load-balancer"
		for node, cfg := range cfgs {
			host := hostPort(cfg.Host)
			leaf := verifiedLeaf(ctx, prober, host, roots, []string{hostOnly(host), "kubernetes.default.svc", lbName, "localhost"})
			served[string(leaf.Raw)] = true
			AddReportEntry("serving certificate of "+node, certSummary(leaf))
		}
		lb := hostPort(restCfg.Host)
		leaf := verifiedLeaf(ctx, prober, lb, roots, []string{hostOnly(lb)})
		AddReportEntry("certificate served through the load balancer", certSummary(leaf))
		Expect(served).To(HaveKey(string(leaf.Raw)),
			"the load balancer must pass TLS through: the certificate it presents is not one of the API servers' own")
	})

	It("kube-apiserver: refuses anonymous requests to resources; only health endpoints answer", func(ctx SpecContext) {
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(restCfg.CAData)
		anonymous := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		targets := map[string]string{"the load balancer": restCfg.Host}
		cfgs, err := in.Provider.APIServerConfigs(ctx)
		Expect(err).NotTo(HaveOccurred())
		for node, cfg := range cfgs {
			targets["kube-apiserver on "+node] = cfg.Host
		}
		for name, base := range targets {
			var attempts []probe.Attempt
			for _, path := range []string{"/healthz", "/livez", "/readyz"} {
				a := prober.Get(ctx, base+path, "TLS, anonymous", anonymous)
				attempts = append(attempts, a)
				Expect(a.Served()).To(BeTrue(), "health endpoint through %s: %s", name, a)
			}
			for _, path := range []string{"/api/v1/namespaces/kube-system/secrets", "/api/v1/nodes", "/apis/apps/v1/deployments"} {
				a := prober.Get(ctx, base+path, "TLS, anonymous", anonymous)
				attempts = append(attempts, a)
				Expect(a.Status).To(BeElementOf(401, 403), "anonymous request through %s was not refused: %s", name, a)
			}
			evidence("anonymous access through "+name, attempts)
		}
	})

	It("kubelet: serves TLS only and refuses anonymous access", func(ctx SpecContext) {
		nodes, err := in.Provider.Nodes(ctx, "")
		Expect(err).NotTo(HaveOccurred())
		for _, n := range nodes {
			if n.Role != topology.RoleControlPlane && n.Role != topology.RoleWorker {
				continue
			}
			r := prober.ProbeEndpoint(ctx, net.JoinHostPort(n.IP, "10250"), "/pods")
			evidence("kubelet on "+n.Name, []probe.Attempt{r.Plaintext, r.Anonymous})
			expectTLSOnlyAndAuthenticated(r, "kubelet on "+n.Name)
		}
	})

	It("kube-scheduler and kube-controller-manager: serve TLS only and refuse anonymous access beyond health", func(ctx SpecContext) {
		for _, node := range nodeNames(ctx, in.Provider, topology.RoleControlPlane) {
			copyProbe(ctx, in, node)
			for name, port := range map[string]string{"kube-scheduler": "10259", "kube-controller-manager": "10257"} {
				who := fmt.Sprintf("%s on %s", name, node)
				health := probeInNode(ctx, in, node, "127.0.0.1:"+port, "/healthz")
				metrics := probeInNode(ctx, in, node, "127.0.0.1:"+port, "/metrics")
				evidence(who, []probe.Attempt{health.Anonymous, metrics.Plaintext, metrics.Anonymous})
				Expect(health.Anonymous.Served()).To(BeTrue(), "%s health endpoint: %s", who, health.Anonymous)
				expectTLSOnlyAndAuthenticated(metrics, who)
			}
		}
	})

	It("certificates: none expires within the configured window", func(ctx SpecContext) {
		certs := clusterCertificates(ctx, prober, in)
		if len(certs) == 0 {
			// nothing read is nothing judged: the provider listed no node to read from
			failWith(verdict.EnvironmentNotReady, "no certificate found in the topology's nodes to check")
		}
		earliest, _ := probe.Earliest(certs)
		window := in.Spec.Security.CertExpiryWindow.Duration
		AddReportEntry("earliest certificate expiry", fmt.Sprintf("%s (%s) expires %s, in %s; window %s; %d certificates checked",
			earliest.Where, earliest.Subject, earliest.NotAfter.Format(time.RFC3339), time.Until(earliest.NotAfter).Round(time.Hour), window, len(certs)))
		Expect(time.Until(earliest.NotAfter)).To(BeNumerically(">", window),
			"%s (%s) expires %s, within security.certExpiryWindow %s", earliest.Where, earliest.Subject, earliest.NotAfter.Format(time.RFC3339), window)
	})
}

// expectTLSOnlyAndAuthenticated: plaintext gets Go's "HTTP request to an HTTPS server"
// 400, and the anonymous TLS request gets an HTTP refusal (so TLS and the server work).
func expectTLSOnlyAndAuthenticated(r probe.EndpointReport, who string) {
	Expect(r.Plaintext.Refused()).To(BeTrue(), "%s served plaintext: %s", who, r.Plaintext)
	Expect(r.Anonymous.TLSVersion).NotTo(BeEmpty(), "%s: no TLS answer: %s", who, r.Anonymous)
	Expect(r.Anonymous.Status).To(BeElementOf(401, 403), "%s did not refuse anonymous access: %s", who, r.Anonymous)
}

// evidence attaches what was offered and what answered to the spec's report. An attempt
// the prober refused to send proves nothing either way and fails the spec.
func evidence(name string, attempts []probe.Attempt) {
	lines := make([]string, len(attempts))
	for i, a := range attempts {
		lines[i] = a.String()
		if strings.HasPrefix(a.Error, "refusing to probe") {
			harnessCouldNotProbe(a.Error)
		}
	}
	AddReportEntry("evidence: "+name, strings.Join(lines, "\n"))
}

// harnessCouldNotProbe ends the spec inconclusive: the prober refused an address it
// was not given as the topology's (probe.ErrNotInTopology), so nothing about the cluster
// was seen, and a broken guarantee would be a false alarm (the existing-cluster
// provider's first run listed no nodes for the prober and read "guarantee broken").
func harnessCouldNotProbe(why string) {
	failWith(verdict.EnvironmentNotReady, "the harness could not probe what it must check: %s", why)
}

// expectProbed fails a spec whose probe returned err: inconclusive when the harness
// refused the address, a finding otherwise.
func expectProbed(err error) {
	if errors.Is(err, probe.ErrNotInTopology) {
		harnessCouldNotProbe(err.Error())
	}
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
}

// withCerts clones a TLS configuration (keeping its trusted roots) with other client certificates.
func withCerts(base *tls.Config, certs ...tls.Certificate) *tls.Config {
	c := base.Clone()
	c.Certificates = certs
	return c
}

func peerHostPort(clientURL string) string {
	host := hostOnly(strings.TrimPrefix(clientURL, "https://"))
	return net.JoinHostPort(host, "2380")
}

func hostPort(rawURL string) string {
	u, err := url.Parse(rawURL)
	Expect(err).NotTo(HaveOccurred())
	return u.Host
}

func hostOnly(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	Expect(err).NotTo(HaveOccurred())
	return h
}

// verifiedLeaf fetches the certificate hostport serves and verifies it against roots for
// every name or address in names.
func verifiedLeaf(ctx context.Context, prober *probe.Prober, hostport string, roots *x509.CertPool, names []string) *x509.Certificate {
	chain, err := prober.ServedChain(ctx, hostport, "")
	expectProbed(err)
	Expect(chain).NotTo(BeEmpty(), "%s served no certificate", hostport)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, name := range names {
		_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name})
		Expect(err).NotTo(HaveOccurred(), "certificate served at %s is not valid for %s under the cluster CA", hostport, name)
	}
	return chain[0]
}

func certSummary(c *x509.Certificate) string {
	return fmt.Sprintf("subject %s, issuer %s, DNS %v, IPs %v, expires %s", c.Subject, c.Issuer, c.DNSNames, c.IPAddresses, c.NotAfter.Format(time.RFC3339))
}

// etcdClientListeners is every member's --listen-client-urls, from the static Pod
// (stacked) or the container's command line (external).
func etcdClientListeners(ctx context.Context, in SecuritySpecInput, client kubernetes.Interface) map[string][]string {
	out := map[string][]string{}
	if in.Spec.Etcd.Mode == topology.EtcdStacked {
		for _, node := range nodeNames(ctx, in.Provider, topology.RoleControlPlane) {
			out[node] = strings.Split(flagValue(ctx, client, "etcd-"+node, "--listen-client-urls"), ",")
		}
		return out
	}
	members, err := in.Provider.Nodes(ctx, topology.RoleEtcd)
	Expect(err).NotTo(HaveOccurred())
	for _, m := range members {
		for _, f := range strings.Fields(m.Command) {
			if v, ok := strings.CutPrefix(f, "--listen-client-urls="); ok {
				out[m.Name] = strings.Split(v, ",")
			}
		}
		Expect(out).To(HaveKey(m.Name), "etcd member %s command line has --listen-client-urls", m.Name)
	}
	return out
}

// plaintextEtcdEvidence asks a plaintext listener for /health, to show what it serves.
func plaintextEtcdEvidence(ctx context.Context, prober *probe.Prober, in SecuritySpecInput, member, listen string) string {
	u, err := url.Parse(listen)
	if err != nil {
		return err.Error()
	}
	nodes, err := in.Provider.Nodes(ctx, "")
	Expect(err).NotTo(HaveOccurred())
	for _, n := range nodes {
		if n.Name == member {
			a := prober.Get(ctx, "http://"+net.JoinHostPort(n.IP, u.Port())+"/health", "plaintext HTTP", nil)
			evidence("plaintext etcd listener of "+member, []probe.Attempt{a})
			return a.String()
		}
	}
	return "member address unknown"
}

// not /tmp: kind mounts it noexec in its nodes
const probeInNodePath = "/usr/local/bin/hachaos-probe"

func copyProbe(ctx context.Context, in SecuritySpecInput, node string) {
	f, err := os.Open(in.ProbeBinary)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	_, err = in.Provider.Exec(ctx, node, f, "sh", "-c", "cat > "+probeInNodePath+" && chmod 0755 "+probeInNodePath)
	Expect(err).NotTo(HaveOccurred(), "copy hachaos-probe into %s", node)
}

func probeInNode(ctx context.Context, in SecuritySpecInput, node, hostport, path string) probe.EndpointReport {
	out, err := in.Provider.Exec(ctx, node, nil, probeInNodePath, hostport, path)
	Expect(err).NotTo(HaveOccurred(), "run hachaos-probe in %s", node)
	var r probe.EndpointReport
	Expect(json.Unmarshal(out, &r)).To(Succeed(), "hachaos-probe output %q", out)
	return r
}

// clusterCertificates gathers kubeadm's PKI and the kubelet serving certificates from
// every node, and the certificates external etcd members serve.
func clusterCertificates(ctx context.Context, prober *probe.Prober, in SecuritySpecInput) []probe.CertificateFile {
	nodes, err := in.Provider.Nodes(ctx, "")
	Expect(err).NotTo(HaveOccurred())
	var certs []probe.CertificateFile
	for _, n := range nodes {
		switch n.Role {
		case topology.RoleControlPlane, topology.RoleWorker:
			certs = append(certs, nodeCertificates(ctx, in, n.Name)...)
		case topology.RoleEtcd:
			chain, err := prober.ServedChain(ctx, net.JoinHostPort(n.IP, "2379"), "")
			expectProbed(err)
			for _, c := range chain {
				certs = append(certs, probe.CertificateFile{Where: n.Name + ":2379 (served)", Subject: c.Subject.String(), NotAfter: c.NotAfter})
			}
		}
	}
	return certs
}

func nodeCertificates(ctx context.Context, in SecuritySpecInput, node string) []probe.CertificateFile {
	out, err := in.Provider.Exec(ctx, node, nil, "find", "/etc/kubernetes/pki", "/var/lib/kubelet/pki", "-name", "*.crt")
	Expect(err).NotTo(HaveOccurred(), "list certificates on %s", node)
	var certs []probe.CertificateFile
	for _, path := range strings.Fields(string(out)) {
		data, err := in.Provider.Exec(ctx, node, nil, "cat", path)
		Expect(err).NotTo(HaveOccurred(), "read %s on %s", path, node)
		found, err := probe.ParseCertificates(node+":"+path, data)
		Expect(err).NotTo(HaveOccurred())
		certs = append(certs, found...)
	}
	return certs
}

// topologyProber may reach loopback and the topology's own containers, nothing else.
func topologyProber(ctx context.Context, p cluster.Provider) *probe.Prober {
	nodes, err := p.Nodes(ctx, "")
	Expect(err).NotTo(HaveOccurred())
	ips := make([]string, 0, len(nodes))
	for _, n := range nodes {
		ips = append(ips, n.IP)
	}
	return probe.NewProber(ips...)
}
