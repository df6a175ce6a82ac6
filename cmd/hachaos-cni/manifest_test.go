package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

const manifestPath = "../../scripts/images/node/default-cni.yaml"

// kindTemplateData is the data kind v0.33.0 executes the manifest with
// (pkg/cluster/internal/create/actions/installcni/cni.go); the field names
// must stay exactly these.
type kindTemplateData struct {
	PodSubnet string
}

// renderManifest does what kind's installcni action does with the manifest,
// and fails if kind would not template it or would patch it.
func renderManifest(t *testing.T, podSubnet string) []byte {
	t.Helper()
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "would you kindly template this file") {
		t.Fatal("manifest lacks kind's template marker; kind would apply {{ .PodSubnet }} literally")
	}
	if strings.Contains(string(raw), "would you kindly patch this file") {
		t.Fatal("manifest carries kind's patch marker; kind would add CONTROL_PLANE_ENDPOINT")
	}
	// As in kind, the data is a struct, so a field kind does not provide
	// fails to execute.
	tmpl, err := template.New("cni-manifest").Parse(string(raw))
	if err != nil {
		t.Fatalf("parse as kind's template: %v", err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, &kindTemplateData{PodSubnet: podSubnet}); err != nil {
		t.Fatalf("execute as kind's template: %v", err)
	}
	return out.Bytes()
}

// decodeStrict splits a YAML stream and decodes each non-empty document into
// the object objs holds for its apiVersion/kind, refusing unknown fields.
func decodeStrict(t *testing.T, stream []byte, objs map[string]any) {
	t.Helper()
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	seen := map[string]int{}
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("split YAML: %v", err)
		}
		js, err := yaml.ToJSON(doc)
		if err != nil {
			t.Fatalf("YAML to JSON: %v\n%s", err, doc)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(js, &tm); err != nil {
			t.Fatalf("read kind: %v", err)
		}
		key := tm.APIVersion + "/" + tm.Kind
		obj, ok := objs[key]
		if !ok {
			t.Fatalf("unexpected object %s", key)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("decode %s: %v", key, err)
		}
		seen[key]++
	}
	for key := range objs {
		if seen[key] != 1 {
			t.Errorf("%s appears %d times, want once", key, seen[key])
		}
	}
}

func TestManifest(t *testing.T) {
	for _, podSubnet := range []string{"10.244.0.0/16", "10.244.0.0/16,fd00:10:244::/56"} {
		t.Run(podSubnet, func(t *testing.T) {
			var (
				sa  corev1.ServiceAccount
				cr  rbacv1.ClusterRole
				crb rbacv1.ClusterRoleBinding
				ds  appsv1.DaemonSet
			)
			decodeStrict(t, renderManifest(t, podSubnet), map[string]any{
				"v1/ServiceAccount":                               &sa,
				"rbac.authorization.k8s.io/v1/ClusterRole":        &cr,
				"rbac.authorization.k8s.io/v1/ClusterRoleBinding": &crb,
				"apps/v1/DaemonSet":                               &ds,
			})
			checkRBAC(t, &sa, &cr, &crb)
			checkDaemonSet(t, &ds, &sa, podSubnet)
		})
	}
}

func checkRBAC(t *testing.T, sa *corev1.ServiceAccount, cr *rbacv1.ClusterRole, crb *rbacv1.ClusterRoleBinding) {
	t.Helper()
	if sa.Name != "hachaos-cni" || sa.Namespace != "kube-system" {
		t.Errorf("ServiceAccount is %s/%s, want kube-system/hachaos-cni", sa.Namespace, sa.Name)
	}
	wantRules := []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"},
	}}
	if !reflect.DeepEqual(cr.Rules, wantRules) {
		t.Errorf("ClusterRole rules = %+v, want %+v", cr.Rules, wantRules)
	}
	wantRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name}
	if crb.RoleRef != wantRef {
		t.Errorf("ClusterRoleBinding roleRef = %+v, want %+v", crb.RoleRef, wantRef)
	}
	wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: sa.Namespace}}
	if !reflect.DeepEqual(crb.Subjects, wantSubjects) {
		t.Errorf("ClusterRoleBinding subjects = %+v, want %+v", crb.Subjects, wantSubjects)
	}
}

func checkDaemonSet(t *testing.T, ds *appsv1.DaemonSet, sa *corev1.ServiceAccount, podSubnet string) {
	t.Helper()
	if ds.Name != "hachaos-cni" || ds.Namespace != "kube-system" {
		t.Errorf("DaemonSet is %s/%s, want kube-system/hachaos-cni", ds.Namespace, ds.Name)
	}
	if ds.Spec.Selector == nil || len(ds.Spec.Selector.MatchLabels) == 0 {
		t.Fatal("DaemonSet has no selector")
	}
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template labels %v", k, v, ds.Spec.Template.Labels)
		}
	}
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		t.Errorf("updateStrategy = %q, want RollingUpdate", ds.Spec.UpdateStrategy.Type)
	}
	pod := ds.Spec.Template.Spec
	if pod.ServiceAccountName != sa.Name {
		t.Errorf("serviceAccountName = %q, want %q", pod.ServiceAccountName, sa.Name)
	}
	if !pod.HostNetwork {
		t.Error("hostNetwork is false; the daemon must edit the node's own routes")
	}
	if pod.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName = %q", pod.PriorityClassName)
	}
	if want := []corev1.Toleration{{Operator: corev1.TolerationOpExists}}; !reflect.DeepEqual(pod.Tolerations, want) {
		t.Errorf("tolerations = %+v, want %+v (every taint)", pod.Tolerations, want)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "hachaos/cni:v1" || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("image %s pull %s, want hachaos/cni:v1 pull Never", c.Image, c.ImagePullPolicy)
	}
	if len(c.Command) != 1 || !strings.HasSuffix(c.Command[0], "/hachaos-cni") {
		t.Errorf("command = %q", c.Command)
	}
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("container is not privileged")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["NODE_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("NODE_NAME = %+v, want fieldRef spec.nodeName", e)
	}
	if got := env["POD_SUBNET"].Value; got != podSubnet {
		t.Errorf("POD_SUBNET = %q, want %q", got, podSubnet)
	}
	if cpu, mem := c.Resources.Requests.Cpu().String(), c.Resources.Requests.Memory().String(); cpu != "10m" || mem != "20Mi" {
		t.Errorf("requests cpu %s memory %s, want 10m 20Mi", cpu, mem)
	}
	checkConfMount(t, pod, c)
}

// checkConfMount checks that the host's /etc/cni/net.d is where the daemon
// writes its config.
func checkConfMount(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	var volume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == confDir {
			volume = m.Name
		}
	}
	for _, v := range pod.Volumes {
		if v.Name != volume || volume == "" {
			continue
		}
		hp := v.HostPath
		if hp == nil || hp.Path != confDir || hp.Type == nil || *hp.Type != corev1.HostPathDirectoryOrCreate {
			t.Errorf("volume %s = %+v, want hostPath %s DirectoryOrCreate", v.Name, v.VolumeSource, confDir)
		}
		return
	}
	t.Errorf("no hostPath volume mounted at %s", confDir)
}
