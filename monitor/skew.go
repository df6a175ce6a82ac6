package monitor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// SeriesVersionSkew samples the Kubernetes version-skew policy as the live cluster
// shows it: Value "apiservers=<node>:<version>,… kubelets=<node>:<version>,…"; a sample
// whose versions break the policy fails with an error starting with SkewViolation.
const SeriesVersionSkew = "version-skew"

// SkewViolation starts the error of a version-skew sample that broke the policy (other
// failed samples are requests that got no answer).
const SkewViolation = "version skew: "

// VersionSkew reads every API server's version directly (a server that does not answer,
// restarting, is left out) and every kubelet's from the Node objects, and checks the
// policy: no kubelet newer than any API server, API servers within one minor version.
func VersionSkew(lb *rest.Config, direct map[string]*rest.Config) (Check, error) {
	nodes, err := kubernetes.NewForConfig(KeepAliveConfig(lb))
	if err != nil {
		return nil, err
	}
	servers := map[string]kubernetes.Interface{}
	for node, cfg := range direct {
		if servers[node], err = kubernetes.NewForConfig(KeepAliveConfig(cfg)); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context) (string, error) {
		api := map[string]string{}
		for node, c := range servers {
			if v, err := c.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw(); err == nil {
				api[node] = gitVersion(v)
			}
		}
		list, err := nodes.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		kubelets := map[string]string{}
		for _, n := range list.Items {
			kubelets[n.Name] = n.Status.NodeInfo.KubeletVersion
		}
		value := "apiservers=" + joinVersions(api) + " kubelets=" + joinVersions(kubelets)
		if problems := skewProblems(api, kubelets); len(problems) > 0 {
			return value, fmt.Errorf("%s%s", SkewViolation, strings.Join(problems, "; "))
		}
		return value, nil
	}, nil
}

// gitVersion picks "gitVersion" out of a /version answer.
func gitVersion(body []byte) string {
	s := string(body)
	i := strings.Index(s, `"gitVersion"`)
	if i < 0 {
		return "unknown"
	}
	rest := s[i+len(`"gitVersion"`):]
	parts := strings.SplitN(rest, `"`, 3)
	if len(parts) < 3 {
		return "unknown"
	}
	return parts[1]
}

// skewProblems applies the policy (kubernetes.io/releases/version-skew-policy): a
// kubelet may not be newer than any API server (minor versions), and API servers may be
// at most one minor version apart. Unparsable versions are problems too.
func skewProblems(api, kubelets map[string]string) []string {
	var problems []string
	parse := func(kind, node, v string) *version.Version {
		pv, err := version.ParseGeneric(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s on %s reports %q", kind, node, v))
		}
		return pv
	}
	var oldest, newest *version.Version
	var oldestNode, newestNode string
	for _, node := range sortedNames(api) {
		v := parse("API server", node, api[node])
		if v == nil {
			continue
		}
		if oldest == nil || minorOf(v) < minorOf(oldest) {
			oldest, oldestNode = v, node
		}
		if newest == nil || minorOf(v) > minorOf(newest) {
			newest, newestNode = v, node
		}
	}
	if oldest != nil && minorOf(newest)-minorOf(oldest) > 1 {
		problems = append(problems, fmt.Sprintf("API servers more than one minor apart: %s on %s, %s on %s", api[oldestNode], oldestNode, api[newestNode], newestNode))
	}
	for _, node := range sortedNames(kubelets) {
		v := parse("kubelet", node, kubelets[node])
		if v != nil && oldest != nil && minorOf(v) > minorOf(oldest) {
			problems = append(problems, fmt.Sprintf("kubelet %s on %s is newer than the API server %s on %s", kubelets[node], node, api[oldestNode], oldestNode))
		}
	}
	return problems
}

func minorOf(v *version.Version) int { return int(v.Major())*1000 + int(v.Minor()) }

func joinVersions(m map[string]string) string {
	var parts []string
	for _, n := range sortedNames(m) {
		parts = append(parts, n+":"+m[n])
	}
	return strings.Join(parts, ",")
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
