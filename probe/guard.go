package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
)

// Prober sends probes only to loopback and to the addresses it was given: the containers
// of the topology under test. hachaos never sends traffic anywhere else, and a target
// outside the set is an error in the harness, reported without a packet sent.
type Prober struct{ allowed map[string]bool }

// NewProber allows loopback and the given IP addresses.
func NewProber(addresses ...string) *Prober {
	p := &Prober{allowed: map[string]bool{}}
	for _, a := range addresses {
		p.allowed[a] = true
	}
	return p
}

// Check returns an error for a target (URL or host:port) that is neither loopback nor allowed.
func (p *Prober) Check(target string) error {
	host := target
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() || p.allowed[host] {
		return nil
	}
	return fmt.Errorf("refusing to probe %s: %w", target, ErrNotInTopology)
}

// ErrNotInTopology is why a Prober refused a target: the harness asked it for an address
// outside the topology, which says nothing about the cluster (a harness error).
var ErrNotInTopology = errors.New("neither loopback nor a container of this topology")

// Get is probe.Get for an allowed target.
func (p *Prober) Get(ctx context.Context, rawURL, offered string, tlsConfig *tls.Config) Attempt {
	if err := p.Check(rawURL); err != nil {
		return Attempt{URL: rawURL, Offered: offered, Error: err.Error()}
	}
	return Get(ctx, rawURL, offered, tlsConfig)
}

// ProbeEndpoint is probe.ProbeEndpoint for an allowed target.
func (p *Prober) ProbeEndpoint(ctx context.Context, hostport, path string) EndpointReport {
	if err := p.Check(hostport); err != nil {
		refused := Attempt{URL: hostport + path, Error: err.Error()}
		return EndpointReport{Plaintext: refused, Anonymous: refused}
	}
	return ProbeEndpoint(ctx, hostport, path)
}

// ServedChain is probe.ServedChain for an allowed target.
func (p *Prober) ServedChain(ctx context.Context, hostport, serverName string) ([]*x509.Certificate, error) {
	if err := p.Check(hostport); err != nil {
		return nil, err
	}
	return ServedChain(ctx, hostport, serverName)
}
