package monitor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hachaos/hachaos/probe"
)

// PrefixDataPlane + worker: an HTTP GET of the data-plane workload's /hostname on that
// worker's NodePort, on a new connection each time, from outside the cluster; Value is
// the name of the Pod that answered (which also shows where kube-proxy routed it).
const PrefixDataPlane = "dataplane/"

// DataPlaneEvery is the data-plane probe's cadence per worker: a new connection every
// 100 ms, as #13 asks, fine enough to date a routing change to a tenth of a second.
const DataPlaneEvery = SampleEvery

// DataPlaneTarget is one worker's NodePort of the data-plane workload's Service.
type DataPlaneTarget struct {
	Worker  string // node name
	Address string // host:port, the node's InternalIP and the Service's nodePort
}

// DataPlaneGet GETs http://<address>/hostname on a new connection: what a client of the
// workload, arriving at a node from outside the cluster, gets. Anything but 200 is an
// error naming the status.
func DataPlaneGet(address string) Check {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + address + "/hostname"
	return func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		if resp.StatusCode != http.StatusOK {
			return "", &probe.StatusError{Code: resp.StatusCode, Detail: strings.TrimSpace(string(body))}
		}
		pod := strings.TrimSpace(string(body))
		if pod == "" {
			return "", fmt.Errorf("GET %s: 200 with an empty body (no Pod name)", url)
		}
		return pod, nil
	}
}
