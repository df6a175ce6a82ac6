package agent

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
)

// The agent runs a command for a client holding the token and trusting its certificate,
// with stdin, and reports stdout, stderr and the exit code; it refuses a wrong token, and
// the client refuses an agent serving another certificate.
func TestAgentRunsCommandsForTheTokenHolderOnly(t *testing.T) {
	hostNamespaces = []string{"env", "--"} // the test's own namespaces
	creds, err := NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(creds.CertPEM, creds.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewUnstartedServer(Handler(creds.Token))
	server.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	server.StartTLS()
	defer server.Close()
	address := strings.TrimPrefix(server.URL, "https://")

	client, err := NewClient(creds.CertPEM, creds.Token)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Exec(context.Background(), address, strings.NewReader("in"), []string{"sh", "-c", "cat; echo err >&2; exit 3"})
	if err != nil || string(res.Stdout) != "in" || strings.TrimSpace(string(res.Stderr)) != "err" || res.ExitCode != 3 {
		t.Fatalf("exec: %+v, %v; want stdout 'in', stderr 'err', exit 3", res, err)
	}
	wrongToken, _ := NewClient(creds.CertPEM, "not-the-token")
	if _, err := wrongToken.Exec(context.Background(), address, nil, []string{"true"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v, want 401", err)
	}
	other, _ := NewCredentials()
	otherCert, _ := NewClient(other.CertPEM, creds.Token)
	if _, err := otherCert.Exec(context.Background(), address, nil, []string{"true"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("another agent's certificate trusted: %v", err)
	}
}
