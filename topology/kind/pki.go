package kind

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is short on purpose (90 days, like ACME certificates): a harness cluster
// lives for hours or days, and a leaked key from it should be worthless soon after.
// Reusing a cluster past this renews nothing; recreate it. The security suite's expiry
// check (security.certExpiryWindow, default 30 days) warns well before.
const certValidity = 90 * 24 * time.Hour

// etcdPKI is the TLS material hachaos generates for external etcd: one CA, a server+peer
// certificate per member, and the client certificate the API servers (and the harness) use.
// Keys are ECDSA P-256; files are written 0600 in a 0700 folder.
type etcdPKI struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// etcdMemberIdentity is what a member's certificate must be valid for.
type etcdMemberIdentity struct {
	Name string
	IP   net.IP
}

func newEtcdPKI(dir string) (*etcdPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create PKI folder: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate etcd CA key: %w", err)
	}
	tmpl := certTemplate("hachaos-etcd-ca")
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sign etcd CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &etcdPKI{dir: dir, caCert: cert, caKey: key}
	return p, p.write("ca", der, nil)
}

// issueMember writes <name>.crt/.key valid as both server and peer certificate.
func (p *etcdPKI) issueMember(m etcdMemberIdentity) error {
	tmpl := certTemplate(m.Name)
	tmpl.DNSNames = []string{m.Name, "localhost"}
	tmpl.IPAddresses = []net.IP{m.IP, net.IPv4(127, 0, 0, 1)}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	return p.issue(m.Name, tmpl)
}

// issueClient writes client.crt/.key for the API servers and the harness.
func (p *etcdPKI) issueClient() error {
	tmpl := certTemplate("kube-apiserver-etcd-client")
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return p.issue("client", tmpl)
}

func (p *etcdPKI) issue(name string, tmpl *x509.Certificate) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key for %s: %w", name, err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return fmt.Errorf("sign certificate for %s: %w", name, err)
	}
	return p.write(name, der, key)
}

func (p *etcdPKI) write(name string, der []byte, key *ecdsa.PrivateKey) error {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(p.dir, name+".crt"), certPEM, 0o600); err != nil {
		return fmt.Errorf("write %s.crt: %w", name, err)
	}
	if key == nil {
		key = p.caKey
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode %s key: %w", name, err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(p.dir, name+".key"), keyPEM, 0o600); err != nil {
		return fmt.Errorf("write %s.key: %w", name, err)
	}
	return nil
}

func certTemplate(commonName string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"hachaos"}},
		NotBefore:    now.Add(-time.Minute), // tolerate small clock skew between containers
		NotAfter:     now.Add(certValidity),
	}
}
