package topology

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// What hachaos' haproxy.cfg names and opens (topology/kind writes it): the backend of
// the API servers; the stats socket (level user: read by the harness through the port
// published on the host's loopback); and the admin socket, on the container's own
// loopback only, through which the upgrade takes a server out of rotation (nothing on
// the cluster's network can).
const (
	HAProxyAPIBackend = "kube-apiservers"
	HAProxyStatsPort  = 8404
	HAProxyAdminPort  = 8405
)

// BackendState is one HAProxy server's state as the stats socket reports it.
type BackendState struct {
	Server string // the server name in haproxy.cfg (the control-plane node name)
	Status string // "UP", "DOWN", "MAINT", "UP 1/2" (going down), "DOWN 1/1" (coming up), "no check"
	// Sessions is the total number of connections HAProxy has sent to this server (stot).
	Sessions int64
	// ConnectErrors (econ) counts connection attempts to this server that failed, Retries
	// (wretr) the attempts HAProxy retried, Redispatches (wredis) those it sent to another
	// server instead: a client did not see them, but each is a request the LB sent to a
	// server that could not take it. Counted since the HAProxy worker started.
	ConnectErrors, Retries, Redispatches int64
}

// Up reports whether HAProxy sends new connections to this server: UP (also while
// failing checks, "UP 1/2"), or "no check" for a server that is never checked.
func (b BackendState) Up() bool { return strings.HasPrefix(b.Status, "UP") || b.Status == "no check" }

// ReadHAProxyBackends asks HAProxy's stats socket at addr (host:port) for the servers of
// the backend named backend. One TCP connection, one "show stat" command.
func ReadHAProxyBackends(ctx context.Context, addr, backend string) ([]BackendState, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to HAProxy stats at %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, fmt.Errorf("send show stat to %s: %w", addr, err)
	}
	return ParseHAProxyStat(bufio.NewReader(conn), backend)
}

// ParseHAProxyStat reads "show stat" CSV (a "# pxname,svname,...,status,..." header
// line) and returns the servers of the backend named backend.
func ParseHAProxyStat(r io.Reader, backend string) ([]BackendState, error) {
	rd := csv.NewReader(r)
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if err != nil {
		return nil, fmt.Errorf("read HAProxy stat header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.TrimSpace(h), "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	if st == 0 {
		return nil, fmt.Errorf("HAProxy stat output has no status column: %q", header)
	}
	var out []BackendState
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read HAProxy stat: %w", err)
		}
		if len(rec) <= st || rec[px] != backend || rec[sv] == "BACKEND" || rec[sv] == "FRONTEND" {
			continue
		}
		num := func(name string) int64 {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return 0
			}
			n, _ := strconv.ParseInt(rec[i], 10, 64)
			return n
		}
		out = append(out, BackendState{Server: rec[sv], Status: rec[st], Sessions: num("stot"),
			ConnectErrors: num("econ"), Retries: num("wretr"), Redispatches: num("wredis")})
	}
}
