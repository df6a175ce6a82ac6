package probe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// ForeignClientCertificate makes a client certificate signed by a CA nobody in the
// cluster trusts: a TLS server that checks client certificates must refuse it.
func ForeignClientCertificate() (tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hachaos-foreign-ca"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver-etcd-client", Organization: []string{"system:masters"}},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// CertificateFile is one certificate found somewhere in the topology.
type CertificateFile struct {
	Where    string    `json:"where"` // node:path or host path
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"notAfter"`
}

// ParseCertificates reads every CERTIFICATE block in data (one PEM file or several).
func ParseCertificates(where string, data []byte) ([]CertificateFile, error) {
	var out []CertificateFile
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate in %s: %w", where, err)
		}
		out = append(out, CertificateFile{Where: where, Subject: c.Subject.String(), NotAfter: c.NotAfter})
	}
}

// Earliest returns the certificate that expires first; ok is false for none.
func Earliest(certs []CertificateFile) (first CertificateFile, ok bool) {
	for i, c := range certs {
		if i == 0 || c.NotAfter.Before(first.NotAfter) {
			first, ok = c, true
		}
	}
	return first, ok
}
