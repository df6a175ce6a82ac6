// Package agent is the wire between hachaos and its node agent on clusters hachaos did
// not create: a small HTTPS server (run by hachaos-probe agent in a privileged, host-PID,
// host-network Pod on every node) that runs one command at a time in the node's
// namespaces, and the client that asks it to.
//
// Why not pods/exec: that goes through an API server and the node's kubelet, which asks
// an API server whether the caller may exec — and the faults stop, freeze and cut off
// exactly those. A recovery must reach a node whose API server is frozen or whose
// network is partitioned from the others, so the harness talks to the agent directly,
// on the node's address, with a token and a pinned certificate the harness generated
// (kept in a Secret in the agent's namespace, never in artifacts).
package agent

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	osexec "os/exec"
	"strings"
	"time"
)

// Port is where the agent listens on every node (host network).
const Port = 10290

// The Secret's keys (also the files the agent reads from its mounted Secret).
const (
	CertKey  = "tls.crt"
	KeyKey   = "tls.key"
	TokenKey = "token"
)

// ExecRequest is one command for the agent.
type ExecRequest struct {
	Command []string `json:"command"`
	Stdin   []byte   `json:"stdin,omitempty"`
}

// ExecResponse is what the command did.
type ExecResponse struct {
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
	ExitCode int    `json:"exitCode"`
	// Error is why the command could not be run at all ("" when it ran).
	Error string `json:"error,omitempty"`
}

// hostNamespaces runs a command in the node's namespaces: nsenter on PID 1, which the
// Pod's host PID namespace makes the node's init.
var hostNamespaces = []string{"nsenter", "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--"}

// Handler serves the agent: POST /exec with the bearer token runs a command in the node's
// namespaces; GET /healthz answers "ok" to the Pod's readiness probe.
func Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("POST /exec", func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var req ExecRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Command) == 0 {
			http.Error(w, fmt.Sprintf("bad request: %v", err), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(run(r.Context(), req))
	})
	return mux
}

func run(ctx context.Context, req ExecRequest) ExecResponse {
	cmd := osexec.CommandContext(ctx, hostNamespaces[0], append(hostNamespaces[1:], req.Command...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if req.Stdin != nil {
		cmd.Stdin = bytes.NewReader(req.Stdin)
	}
	err := cmd.Run()
	resp := ExecResponse{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *osexec.ExitError
	switch {
	case errors.As(err, &exit):
		resp.ExitCode = exit.ExitCode()
	case err != nil:
		resp.Error, resp.ExitCode = err.Error(), -1
	}
	return resp
}

// Client asks the agents for commands: over HTTPS, trusting only the agents'
// certificate (pinned: the harness generated it), with the token.
type Client struct {
	http  *http.Client
	token string
}

// NewClient is a client for agents serving certPEM and accepting token.
func NewClient(certPEM []byte, token string) (*Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		return nil, errors.New("agent certificate: not PEM")
	}
	transport := &http.Transport{
		// every agent serves the one certificate, for whatever node address it is reached
		// on: verified against that certificate alone, the name aside
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: CertName, MinVersion: tls.VersionTLS12},
		// a fault may cut a node off: fail fast, the caller polls
		DialContext:         (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &Client{http: &http.Client{Transport: transport}, token: token}, nil
}

// CertName is the name in the agents' certificate, which the client checks.
const CertName = "hachaos-agent"

// Exec runs command on the agent at address (host:port) and returns its response; an
// error when the agent could not be asked or could not run it.
func (c *Client) Exec(ctx context.Context, address string, stdin io.Reader, command []string) (ExecResponse, error) {
	req := ExecRequest{Command: command}
	if stdin != nil {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return ExecResponse{}, fmt.Errorf("read stdin: %w", err)
		}
		req.Stdin = data
	}
	body, err := json.Marshal(req)
	if err != nil {
		return ExecResponse{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+address+"/exec", bytes.NewReader(body))
	if err != nil {
		return ExecResponse{}, err
	}
	hr.Header.Set("Authorization", "Bearer "+c.token)
	hr.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(hr)
	if err != nil {
		return ExecResponse{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return ExecResponse{}, fmt.Errorf("agent at %s: %s: %s", address, res.Status, strings.TrimSpace(string(msg)))
	}
	var out ExecResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return ExecResponse{}, fmt.Errorf("agent at %s: %w", address, err)
	}
	if out.Error != "" {
		return out, fmt.Errorf("agent at %s could not run %q: %s", address, command, out.Error)
	}
	return out, nil
}
