package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"time"
)

// attemptTimeout bounds one request; an endpoint that does not answer in time is refused.
const attemptTimeout = 5 * time.Second

// Attempt is one request and what answered it.
type Attempt struct {
	URL        string `json:"url"`
	Offered    string `json:"offered"`              // what the probe presented: "plaintext HTTP", "TLS, no client certificate", ...
	Status     int    `json:"status,omitempty"`     // HTTP status; 0 when no HTTP answer came
	Body       string `json:"body,omitempty"`       // the first bytes of the answer
	TLSVersion string `json:"tlsVersion,omitempty"` // negotiated TLS version, when a handshake completed
	Error      string `json:"error,omitempty"`      // why no HTTP answer came
}

// Served reports whether the endpoint answered with a 2xx status: it served the request.
func (a Attempt) Served() bool { return a.Error == "" && a.Status >= 200 && a.Status < 300 }

// Refused reports whether the endpoint did not serve the request: no answer, or a status
// that is not 2xx (400 for plaintext on a TLS port, 401/403 for missing credentials).
func (a Attempt) Refused() bool { return !a.Served() }

func (a Attempt) String() string {
	if a.Error != "" {
		return fmt.Sprintf("%s to %s: no answer (%s)", a.Offered, a.URL, a.Error)
	}
	return fmt.Sprintf("%s to %s: HTTP %d %q", a.Offered, a.URL, a.Status, a.Body)
}

// Get sends one GET to url on a new connection. tlsConfig nil means no TLS settings
// beyond Go's defaults (an http:// URL then is plaintext).
func Get(ctx context.Context, url, offered string, tlsConfig *tls.Config) Attempt {
	a := Attempt{URL: url, Offered: offered}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 120))
	a.Status, a.Body = resp.StatusCode, string(body)
	if resp.TLS != nil {
		a.TLSVersion = tls.VersionName(resp.TLS.Version)
	}
	return a
}

// EndpointReport is how one HTTPS endpoint treats clients without credentials.
type EndpointReport struct {
	Plaintext Attempt `json:"plaintext"` // http:// to the same port
	Anonymous Attempt `json:"anonymous"` // TLS without client certificate or token
}

// ProbeEndpoint asks hostport for path in plaintext and over anonymous TLS. The server's
// identity is not verified here: this is about what it grants, not who it is.
func ProbeEndpoint(ctx context.Context, hostport, path string) EndpointReport {
	return EndpointReport{
		Plaintext: Get(ctx, "http://"+hostport+path, "plaintext HTTP", nil),
		Anonymous: Get(ctx, "https://"+hostport+path, "TLS, no credentials", &tls.Config{InsecureSkipVerify: true}), //nolint:gosec // probing access, not identity
	}
}

// ServedChain returns the certificate chain hostport presents, without verifying it.
func ServedChain(ctx context.Context, hostport, serverName string) ([]*x509.Certificate, error) {
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, ServerName: serverName}} //nolint:gosec // we verify below, with the caller's roots
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", hostport, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}
