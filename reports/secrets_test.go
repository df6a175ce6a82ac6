package reports

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScanSecretsFindsEachKind(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"clean.log":        "GET /readyz 200\nclient certificate CN=kube-apiserver-etcd-client\n-----BEGIN CERTIFICATE-----\n",
		"key.pem":          "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n",
		"logs/kubelet.log": `I1125 request headers: Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123` + "\n",
		"sa.json":          `{"token":"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlc2lnbmF0dXJl"}`,
		"kubeconfig":       "users:\n- name: admin\n  user:\n    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t\n",
		"secret.json":      `{"data":{"tls.key":"LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo="}}`,
		"user.json":        `{"user":{"token": "abcdefghijklmnop0123"}}`,
		"join.log":         "running kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef\n",
		"ca.json":          `{"certificate-authority-data":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM="}`,
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var gz bytes.Buffer // a compressed log, named as if it were not
	z := gzip.NewWriter(&gz)
	_, _ = z.Write([]byte("boot\n-----BEGIN PRIVATE KEY-----\n"))
	_ = z.Close()
	if err := os.WriteFile(filepath.Join(dir, "node.log.gz"), gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer // a zip of logs, one of them holding a key
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("etcd.log")
	_, _ = w.Write([]byte("ok\n-----BEGIN RSA PRIVATE KEY-----\n"))
	_ = zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "logs.zip"), zipped.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// an xz file cannot be read here: not scanned is not clean
	if err := os.WriteFile(filepath.Join(dir, "journal.xz"), []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	findings, err := ScanSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range findings {
		got[filepath.Base(f.Path)+" "+f.Kind] = true
		if strings.HasSuffix(f.Path, "clean.log") || strings.HasSuffix(f.Path, "ca.json") {
			t.Errorf("false positive: %s", f)
		}
	}
	for _, want := range []string{"key.pem PEM private key", "kubelet.log bearer token", "sa.json JSON web token", "kubeconfig kubeconfig credential",
		"kubeconfig base64-encoded PEM private key", "secret.json base64-encoded PEM private key", "user.json credential field", "join.log token argument",
		"node.log.gz (decompressed) PEM private key", "logs.zip!etcd.log PEM private key",
		"journal.xz compressed file hachaos cannot read (xz, zstd or 7z): not scanned"} {
		if !got[want] {
			t.Errorf("missed %q; found %v", want, findings)
		}
	}
}

func TestRedactKubeconfigLeavesNoCredential(t *testing.T) {
	kubeconfig := `apiVersion: v1
kind: Config
clusters:
- name: kind-hachaos
  cluster:
    server: https://127.0.0.1:34565
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
contexts:
- name: kind-hachaos
  context: {cluster: kind-hachaos, user: kind-hachaos}
current-context: kind-hachaos
users:
- name: kind-hachaos
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t
    token: abcdefghijklmnopqrstuvwxyz
`
	out, err := RedactKubeconfig([]byte(kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	if findings, _ := ScanSecrets(dir); len(findings) > 0 {
		t.Errorf("redacted kubeconfig still holds secrets: %v\n%s", findings, out)
	}
	if !strings.Contains(string(out), "server: https://127.0.0.1:34565") {
		t.Errorf("redaction lost the server:\n%s", out)
	}
}
