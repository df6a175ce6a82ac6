// Package dataplane is the data-plane workload every fault spec and every monitored run
// probes: a server (agnhost netexec, the Kubernetes e2e test image) on every worker
// behind a NodePort Service — what a platform team's applications are — and what its
// clients, arriving at the workers' NodePorts from outside the cluster, saw. Deploy
// creates it (the suites before their first spec, `hachaos up` after bring-up), Get is
// the probe, and the judges here are pure functions of a recorded timeline.
package dataplane

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
)

// PrefixSeries + worker: an HTTP GET of the data-plane workload's /hostname on that
// worker's NodePort, on a new connection each time, from outside the cluster; Value is
// the name of the Pod that answered (which also shows where kube-proxy routed it).
const PrefixSeries = "dataplane/"

// Every is the probe's cadence per worker: a new connection every 100 ms, fine enough to
// date a routing change to a tenth of a second.
const Every = 100 * time.Millisecond

// Target is one worker's NodePort of the data-plane workload's Service.
type Target struct {
	Worker  string // node name
	Address string // host:port, the node's InternalIP and the Service's nodePort
}

// Get GETs http://<address>/hostname on a new connection: what a client of the
// workload, arriving at a node from outside the cluster, gets. Anything but 200 is an
// error naming the status.
func Get(address string) func(ctx context.Context) (string, error) {
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

// Where the workload lives (Deploy); the monitor probes it wherever it finds it.
const (
	Namespace = "hachaos-dataplane"
	Service   = "hachaos-serve"
	// Port is the server's (netexec --http-port); the Service's port 80 maps to it.
	Port = 8080
)

// Discover is the NodePort of the data-plane Service on each node one of its
// Pods runs on (none when the Service is absent: a cluster the suites never ran on).
func Discover(ctx context.Context, c kubernetes.Interface) ([]Target, error) {
	svc, err := c.CoreV1().Services(Namespace).Get(ctx, Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the data-plane Service: %w", err)
	}
	if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].NodePort == 0 {
		return nil, fmt.Errorf("the data-plane Service %s/%s has no NodePort", Namespace, Service)
	}
	pods, err := c.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && !slices.Contains(nodes, p.Spec.NodeName) {
			nodes = append(nodes, p.Spec.NodeName)
		}
	}
	slices.Sort(nodes)
	return NodePortTargets(ctx, c, nodes, svc.Spec.Ports[0].NodePort)
}

// NodePortTargets is each node's InternalIP with nodePort.
func NodePortTargets(ctx context.Context, c kubernetes.Interface, nodes []string, nodePort int32) ([]Target, error) {
	var out []Target
	for _, name := range nodes {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", name, err)
		}
		i := slices.IndexFunc(n.Status.Addresses, func(a corev1.NodeAddress) bool { return a.Type == corev1.NodeInternalIP })
		if i < 0 {
			return nil, fmt.Errorf("node %s has no InternalIP", name)
		}
		out = append(out, Target{Worker: name, Address: net.JoinHostPort(n.Status.Addresses[i].Address, strconv.Itoa(int(nodePort)))})
	}
	return out, nil
}

// Requests are one worker's NodePort requests in a window: how many were sent, how many
// failed, and the first and last that failed.
type Requests struct {
	Worker       string
	Sent, Failed int
	First, Last  probe.Sample
}

// Count counts worker's requests sent in [from, to).
func Count(tl probe.Timeline, worker string, from, to time.Duration) Requests {
	c := Requests{Worker: worker}
	for _, s := range tl.Series[PrefixSeries+worker] {
		if s.At < from || s.At >= to {
			continue
		}
		c.Sent++
		if s.OK {
			continue
		}
		if c.Failed == 0 {
			c.First = s
		}
		c.Failed++
		c.Last = s
	}
	return c
}

func (c Requests) String() string {
	if c.Failed == 0 {
		return fmt.Sprintf("%s: 0 of %d", c.Worker, c.Sent)
	}
	return fmt.Sprintf("%s: %d of %d, sent %.3f s – %.3f s (first: %s)", c.Worker, c.Failed, c.Sent, c.First.At.Seconds(), c.Last.At.Seconds(), c.First.FailureCause())
}

// Workers are the workers whose NodePorts the timeline probed.
func Workers(tl probe.Timeline) []string {
	var out []string
	for _, s := range tl.SeriesWithPrefix(PrefixSeries) {
		out = append(out, strings.TrimPrefix(s, PrefixSeries))
	}
	slices.Sort(out)
	return out
}

// JudgeServed: no request to the data-plane workload sent in [from, to) on the
// workers' NodePorts failed — kube-proxy's rules and the running Pods need no control
// plane. A lone timeout, between two served requests on the same NodePort, is counted
// apart and noted: on 2 cores a request can wait 2 s for a CPU while a control-plane
// component restarts (CI, 2026-12-02: one of 1080), and a data plane that really stops
// serving — a dead Pod, a rule gone, a black hole — fails request after request. It
// returns the measurement, the notes, and the problem ("" when none); too few requests
// to show anything is a problem too.
func JudgeServed(tl probe.Timeline, workers []string, from, to time.Duration) (reports.Measurement, []reports.Note, string) {
	failed, lone, total := 0, 0, 0
	var detail []string
	var problem string
	for _, w := range workers {
		c := Count(tl, w, from, to)
		if need := max(1, int((to-from)/Every)/2); c.Sent < need && problem == "" {
			problem = fmt.Sprintf("only %d requests to the data-plane workload on %s's NodePort between %.3f s and %.3f s, %d needed: the data plane was not shown to serve", c.Sent, w, from.Seconds(), to.Seconds(), need)
		}
		n := loneTimeouts(tl.Series[PrefixSeries+w], from, to)
		failed, lone, total = failed+c.Failed-n, lone+n, total+c.Sent
		detail = append(detail, c.String())
	}
	m := reports.Measurement{Name: "data plane: failed requests to the workload's NodePorts", Value: float64(failed), Unit: "requests",
		Formula: "none may fail: kube-proxy's rules and the running Pods serve without the control plane (a lone timeout between two served requests counted apart)"}
	notes := []reports.Note{{Name: "data plane: requests per worker (failed of sent)", Value: strings.Join(detail, "; ")}}
	if lone > 0 {
		notes = append(notes, reports.Note{Name: "data plane: lone timeouts (not counted)", Value: fmt.Sprintf("%d, each between two served requests on its NodePort: the machine's capacity, not the data plane", lone)})
	}
	if failed > 0 && problem == "" {
		problem = fmt.Sprintf("%d of %d requests to the data-plane workload failed (%s): the applications' traffic must not depend on the control plane", failed, total, strings.Join(detail, "; "))
	}
	return m, notes, problem
}

// loneTimeouts counts the requests sent in [from, to) that timed out while the requests
// sent just before and just after them on the same NodePort were served.
func loneTimeouts(samples []probe.Sample, from, to time.Duration) int {
	n := 0
	for i := 1; i+1 < len(samples); i++ {
		s := samples[i]
		if s.At >= from && s.At < to && !s.OK && s.FailureCause() == probe.CauseTimeout && samples[i-1].OK && samples[i+1].OK {
			n++
		}
	}
	return n
}
