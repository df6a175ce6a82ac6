package kind

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/hachaos/hachaos/topology"
)

// kubeadm's CA: RSA, its key PKCS#1. The read check's certificate must chain to it, name
// the read check's user and carry no group.
func TestReadCheckClientIsSignedByTheClusterCAForItsUserAlone(t *testing.T) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := certTemplate("kubernetes")
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	caDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(caKey)})
	out, err := signReadCheckClient(caPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	certBlock, rest := pem.Decode(out)
	if keyBlock, _ := pem.Decode(rest); certBlock == nil || keyBlock == nil || keyBlock.Type != "EC PRIVATE KEY" {
		t.Fatalf("want a certificate then its key, got:\n%s", out)
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("not a client certificate of the cluster CA: %v", err)
	}
	if cert.Subject.CommonName != topology.LBReadCheckUser || len(cert.Subject.Organization) != 0 {
		t.Errorf("subject %v: want CN %s and no organization (a group would widen its rights)", cert.Subject, topology.LBReadCheckUser)
	}
	if _, err := signReadCheckClient(caPEM, []byte("junk")); err == nil {
		t.Error("a key that is not PEM was accepted")
	}
}
