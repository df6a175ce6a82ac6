package reports

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// Finding is a secret found in an artifacts file.
type Finding struct {
	Path string
	Line int
	Kind string
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: %s", f.Path, f.Line, f.Kind) }

// secretPatterns are what must never reach an artifacts folder: private keys (as PEM,
// or base64-encoded PEM as kubeconfigs and Secrets hold them), bearer tokens
// (service-account JWTs included), credentials in YAML or JSON fields, and tokens on
// command lines (kubeadm join --token, kubectl --token).
var secretPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"PEM private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)},
	{"base64-encoded PEM private key", base64PrivateKeyPattern()},
	{"bearer token", regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}`)},
	{"JSON web token", regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`)},
	{"kubeconfig credential", regexp.MustCompile(`\b(client-key-data|token|password):\s*["']?[A-Za-z0-9+/=._-]{16,}`)},
	{"credential field", regexp.MustCompile(`"(client-key-data|token|password|bearerToken|access_token)"\s*:\s*"[A-Za-z0-9+/=._-]{16,}"`)},
	{"token argument", regexp.MustCompile(`--(token|bootstrap-token|discovery-token)(=|\s+)["']?[A-Za-z0-9._-]{16,}`)},
}

// base64PrivateKeyPattern matches the base64 text of a PEM private key's first line, of
// every kind Kubernetes and etcd use: the encoding of the whole 3-byte groups of
// "-----BEGIN <kind> PRIVATE KEY-----", so it matches at the start of the data, where
// kubeconfigs and Secrets put it. A certificate's line encodes otherwise and does not
// match: certificate-authority-data is public.
func base64PrivateKeyPattern() *regexp.Regexp {
	var alternatives []string
	for _, kind := range []string{"", "RSA ", "EC ", "ENCRYPTED ", "OPENSSH "} {
		line := "-----BEGIN " + kind + "PRIVATE KEY-----"
		encoded := base64.StdEncoding.EncodeToString([]byte(line))
		alternatives = append(alternatives, regexp.QuoteMeta(encoded[:len(line)/3*4]))
	}
	return regexp.MustCompile(strings.Join(alternatives, "|"))
}

// ScanSecrets reads every file below dir and reports each line that holds a secret.
func ScanSecrets(dir string) ([]Finding, error) {
	var findings []Finding
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		found, err := scanFile(path)
		findings = append(findings, found...)
		return err
	})
	if err != nil {
		return findings, fmt.Errorf("scan %s for secrets: %w", dir, err)
	}
	return findings, nil
}

// scanFile scans a file's lines, or a compressed one's decompressed lines, by its magic
// bytes whatever its name: a compressed log is no place to hide a key. gzip (so
// .tar.gz too), bzip2 and zip are read; a format hachaos cannot read (xz, zstd, 7z) is
// a finding of its own — not scanned is not clean.
func scanFile(path string) ([]Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic, _ := r.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer z.Close()
		return scanLines(path+" (decompressed)", z)
	case bytes.HasPrefix(magic, []byte("BZh")) && len(magic) > 3 && magic[3] >= '1' && magic[3] <= '9':
		return scanLines(path+" (decompressed)", bzip2.NewReader(r))
	case bytes.HasPrefix(magic, []byte("PK\x03\x04")):
		return scanZip(path)
	}
	for _, unreadable := range [][]byte{{0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}, {'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}} {
		if bytes.HasPrefix(magic, unreadable) {
			return []Finding{{Path: path, Line: 1, Kind: "compressed file hachaos cannot read (xz, zstd or 7z): not scanned"}}, nil
		}
	}
	return scanLines(path, r)
}

// scanZip scans every file in a zip archive, named path!name.
func scanZip(path string) ([]Finding, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer z.Close()
	var findings []Finding
	for _, entry := range z.File {
		if entry.FileInfo().IsDir() {
			continue
		}
		rc, err := entry.Open()
		if err != nil {
			return nil, fmt.Errorf("%s!%s: %w", path, entry.Name, err)
		}
		found, err := scanLines(path+"!"+entry.Name, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		findings = append(findings, found...)
	}
	return findings, nil
}

func scanLines(path string, r io.Reader) ([]Finding, error) {
	var findings []Finding
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024) // log lines can be long
	for line := 1; sc.Scan(); line++ {
		for _, p := range secretPatterns {
			if p.re.Match(sc.Bytes()) {
				findings = append(findings, Finding{Path: path, Line: line, Kind: p.kind})
			}
		}
	}
	return findings, sc.Err()
}

// RedactKubeconfig keeps a kubeconfig's servers and CAs (useful to read a report) and
// replaces every credential: client keys and certificates, tokens, passwords.
func RedactKubeconfig(data []byte) ([]byte, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("parse kubeconfig: %w", err)
	}
	for name, auth := range cfg.AuthInfos {
		auth.ClientKeyData, auth.ClientCertificateData = nil, nil
		auth.ClientKey, auth.ClientCertificate = "", ""
		auth.Token, auth.TokenFile, auth.Password = "", "", ""
		if auth.Username != "" {
			auth.Username = "REDACTED"
		}
		cfg.AuthInfos[name] = auth
	}
	return clientcmd.Write(*cfg)
}
