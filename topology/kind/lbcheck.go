package kind

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hachaos/hachaos/topology"
)

// lbReadCheckPEM is the read check's client certificate and key, in HAProxy's
// configuration folder (default-server's crt: HAProxy presents it on its SSL checks).
const lbReadCheckPEM = "lb-read-check.pem"

// lbReadCheckRBAC lets the read check's user get the one object it reads, nothing else.
var lbReadCheckRBAC = fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: %[1]s
  labels: {app.kubernetes.io/managed-by: hachaos}
rules:
- apiGroups: [""]
  resources: ["namespaces"]
  resourceNames: ["default"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %[1]s
  labels: {app.kubernetes.io/managed-by: hachaos}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[1]s}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: %[1]s}
`, topology.LBReadCheckUser)

// prepareLBReadCheck readies the load balancer's read check (LoadBalancerSpec.ReadCheck):
// the RBAC that lets its user get the namespace "default", applied through controlPlane's
// kubectl, and a client certificate for that user signed by the cluster's CA (read from
// controlPlane), written with its key to cfgDir.
func (p *Provider) prepareLBReadCheck(ctx context.Context, controlPlane, cfgDir string) error {
	if out, err := p.Exec(ctx, controlPlane, strings.NewReader(lbReadCheckRBAC),
		"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "apply", "-f", "-"); err != nil {
		return fmt.Errorf("the load balancer's read check: RBAC for %s on %s: %w\n%s", topology.LBReadCheckUser, controlPlane, err, out)
	}
	caPEM, err := p.Exec(ctx, controlPlane, nil, "cat", "/etc/kubernetes/pki/ca.crt")
	if err != nil {
		return fmt.Errorf("the load balancer's read check: read the cluster CA on %s: %w", controlPlane, err)
	}
	caKeyPEM, err := p.Exec(ctx, controlPlane, nil, "cat", "/etc/kubernetes/pki/ca.key")
	if err != nil {
		return fmt.Errorf("the load balancer's read check: read the cluster CA's key on %s: %w", controlPlane, err)
	}
	pemFile, err := signReadCheckClient(caPEM, caKeyPEM)
	if err != nil {
		return fmt.Errorf("the load balancer's read check: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, lbReadCheckPEM), pemFile, 0o600); err != nil {
		return fmt.Errorf("the load balancer's read check: write %s: %w", lbReadCheckPEM, err)
	}
	return nil
}

// signReadCheckClient returns a client certificate for topology.LBReadCheckUser signed
// by the CA, followed by its key: the PEM file HAProxy's crt takes. It has no
// organization, so no group's permissions: only the user's RBAC applies.
func signReadCheckClient(caPEM, caKeyPEM []byte) ([]byte, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return nil, errors.New("the cluster CA certificate is not PEM")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the cluster CA certificate: %w", err)
	}
	caKey, err := parsePrivateKey(caKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("the cluster CA's key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := certTemplate(topology.LBReadCheckUser)
	tmpl.Subject = pkix.Name{CommonName: topology.LBReadCheckUser}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if ca.NotAfter.Before(tmpl.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sign the read check's certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...), nil
}

// parsePrivateKey reads the PEM key kubeadm writes: PKCS#1 RSA (its default), PKCS#8, or EC.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: neither PKCS#1, EC nor PKCS#8", block.Type)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T key cannot sign", k)
	}
	return signer, nil
}
