package reports

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"k8s.io/client-go/tools/clientcmd"
)

// Finding is a secret found in an artifacts file.
type Finding struct {
	Path string
	Line int
	Kind string
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: %s", f.Path, f.Line, f.Kind) }

// secretPatterns are what must never reach an artifacts folder: private keys, bearer
// tokens (service-account JWTs included) and kubeconfig credentials.
var secretPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"PEM private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)},
	{"bearer token", regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}`)},
	{"JSON web token", regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`)},
	{"kubeconfig credential", regexp.MustCompile(`\b(client-key-data|token|password):\s*["']?[A-Za-z0-9+/=._-]{16,}`)},
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

func scanFile(path string) ([]Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var findings []Finding
	sc := bufio.NewScanner(f)
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
