// Command hachaos-probe is what hachaos runs inside nodes. With HOST:PORT PATH it asks
// one HTTPS endpoint for a path in plaintext and over anonymous TLS and prints what
// answered as JSON (probe.EndpointReport): the security suite copies it into a node to
// reach endpoints that listen only on that node's loopback (kube-scheduler on
// 127.0.0.1:10259, kube-controller-manager on 127.0.0.1:10257). With "agent" it is the
// node agent on clusters hachaos did not create (package internal/agent): an HTTPS
// server on the node's address that runs the faults' commands in the node's namespaces.
//
//	hachaos-probe 127.0.0.1:10259 /metrics
//	hachaos-probe agent SECRET_DIR
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hachaos/hachaos/internal/agent"
	"github.com/hachaos/hachaos/probe"
)

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "agent":
		err := agent.Serve(fmt.Sprintf(":%d", agent.Port), os.Args[2])
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	case len(os.Args) == 3:
		// inside a node the probe only ever needs that node's loopback
		report := probe.NewProber().ProbeEndpoint(context.Background(), os.Args[1], os.Args[2])
		if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: hachaos-probe HOST:PORT PATH | hachaos-probe agent SECRET_DIR")
		os.Exit(2)
	}
}
