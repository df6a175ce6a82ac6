package kind

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEtcdPKIIssuesChainedShortLivedOwnerOnlyCertificates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	pki, err := newEtcdPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	member := etcdMemberIdentity{Name: "c-etcd1", IP: net.ParseIP("172.29.0.250")}
	if err := pki.issueMember(member); err != nil {
		t.Fatal(err)
	}
	if err := pki.issueClient(); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("PKI folder mode %v, want 0700", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "c-etcd1.crt"), filepath.Join(dir, "c-etcd1.key"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(pair.Certificate[0])
	roots := x509.NewCertPool()
	roots.AddCert(pki.caCert)
	for _, name := range []string{"c-etcd1", "172.29.0.250", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("member certificate not valid for %s: %v", name, err)
		}
	}
	if key, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok || key.Curve != elliptic.P256() {
		t.Errorf("member key is %T, want ECDSA P-256", pair.PrivateKey)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life > 91*24*time.Hour {
		t.Errorf("certificate valid for %s, want at most ~90 days", life)
	}
}
