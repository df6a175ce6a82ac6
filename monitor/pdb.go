package monitor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/reports"
)

// SeriesPDB samples the PodDisruptionBudgets of the namespaces hachaos created (named
// "hachaos…": the data plane's, the suites' workload's): Value "<ns>/<name>=<healthy>/<desired>,…";
// a sample in which one had fewer healthy Pods than it requires fails with an error
// starting with PDBViolation.
const SeriesPDB = "pdb"

// PDBViolation starts the error of a SeriesPDB sample that saw a budget broken.
const PDBViolation = "below its PodDisruptionBudget: "

// PDBStatus lists the PodDisruptionBudgets of hachaos' namespaces and compares each
// one's healthy Pods with the Pods it requires (status.currentHealthy against
// status.desiredHealthy, as the disruption controller computes them).
func PDBStatus(c kubernetes.Interface) Check {
	return func(ctx context.Context) (string, error) {
		list, err := c.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		var seen, below []string
		for _, p := range list.Items {
			if !strings.HasPrefix(p.Namespace, "hachaos") {
				continue
			}
			s := fmt.Sprintf("%s/%s=%d/%d", p.Namespace, p.Name, p.Status.CurrentHealthy, p.Status.DesiredHealthy)
			seen = append(seen, s)
			if p.Status.CurrentHealthy < p.Status.DesiredHealthy {
				below = append(below, s)
			}
		}
		sort.Strings(seen)
		if len(below) > 0 {
			return strings.Join(seen, ","), fmt.Errorf("%s%s", PDBViolation, strings.Join(below, ","))
		}
		return strings.Join(seen, ","), nil
	}
}

// pdbJudged: no PodDisruptionBudget of hachaos' workloads was ever seen below what it
// requires while the command ran (a drain honours them through evictions; a kubelet
// restart or an upgraded node must not take Pods down with it either).
func pdbJudged(r Recording, j *Judgement, until time.Duration) []string {
	samples := r.Timeline.Series[SeriesPDB]
	if len(samples) == 0 {
		return nil
	}
	n, checked, first := violations(samples, PDBViolation, r.Started, until)
	j.Measured = append(j.Measured, reports.Measurement{Name: "PodDisruptionBudgets: samples with one broken", Value: float64(n), Unit: "samples",
		Formula: fmt.Sprintf("none: every budget of hachaos' workloads kept its healthy Pods at or above status.desiredHealthy (%d samples read them)", checked)})
	if n > 0 {
		return []string{fmt.Sprintf("a PodDisruptionBudget was broken in %d samples, first at %.1f s: %s", n, first.At.Seconds(), strings.TrimPrefix(first.Error, PDBViolation))}
	}
	return nil
}

// violations counts the samples in [from, until) whose error starts with prefix, and
// the samples that were read at all (answered, or a violation); first is the first
// violation.
func violations(samples []probe.Sample, prefix string, from, until time.Duration) (n, checked int, first probe.Sample) {
	for _, s := range samples {
		if s.At < from || s.At >= until {
			continue
		}
		violated := strings.HasPrefix(s.Error, prefix)
		if s.OK || violated {
			checked++
		}
		if violated {
			if n == 0 {
				first = s
			}
			n++
		}
	}
	return n, checked, first
}
