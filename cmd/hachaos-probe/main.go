// Command hachaos-probe asks one HTTPS endpoint for a path in plaintext and over anonymous
// TLS and prints what answered as JSON (probe.EndpointReport). The security suite copies
// it into a node to reach endpoints that listen only on that node's loopback
// (kube-scheduler on 127.0.0.1:10259, kube-controller-manager on 127.0.0.1:10257).
//
//	hachaos-probe 127.0.0.1:10259 /metrics
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hachaos/hachaos/probe"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: hachaos-probe HOST:PORT PATH")
		os.Exit(2)
	}
	// inside a node the probe only ever needs that node's loopback
	report := probe.NewProber().ProbeEndpoint(context.Background(), os.Args[1], os.Args[2])
	if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
