package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Credentials are what the harness and the agents share: the agents' certificate and
// key, and the token a request must carry.
type Credentials struct {
	CertPEM, KeyPEM []byte
	Token           string
}

// NewCredentials generates a self-signed certificate for CertName (ECDSA P-256, valid
// for a year: an agent lives for one run, its Secret until the agent is removed) and a
// random 256-bit token.
func NewCredentials() (Credentials, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Credentials{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return Credentials{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: CertName}, DNSNames: []string{CertName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, // self-signed: its own trust anchor
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Credentials{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Credentials{}, err
	}
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return Credentials{}, err
	}
	return Credentials{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Token:   hex.EncodeToString(token),
	}, nil
}

// Serve runs the agent on listen with the credentials in dir (the mounted Secret: CertKey,
// KeyKey, TokenKey) until the process ends.
func Serve(listen, dir string) error {
	token, err := os.ReadFile(filepath.Join(dir, TokenKey))
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertKey), filepath.Join(dir, KeyKey))
	if err != nil {
		return fmt.Errorf("agent certificate: %w", err)
	}
	server := &http.Server{
		Addr: listen, Handler: Handler(strings.TrimSpace(string(token))),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	return server.ListenAndServeTLS("", "")
}
