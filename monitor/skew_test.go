package monitor

import (
	"strings"
	"testing"
)

func TestSkewProblems(t *testing.T) {
	cases := []struct {
		name          string
		api, kubelets map[string]string
		want          string // substring of the problems, "" for none
	}{
		{"mid-upgrade, allowed", map[string]string{"cp1": "v1.37.2", "cp2": "v1.36.3"}, map[string]string{"cp1": "v1.36.3", "w1": "v1.36.3"}, ""},
		{"kubelet upgraded before every API server", map[string]string{"cp1": "v1.37.2", "cp2": "v1.36.3"}, map[string]string{"w1": "v1.37.2"}, "kubelet v1.37.2 on w1 is newer than the API server v1.36.3 on cp2"},
		{"API servers two minors apart", map[string]string{"cp1": "v1.37.2", "cp2": "v1.35.0"}, map[string]string{}, "more than one minor apart"},
		{"newer patch of the same minor is fine", map[string]string{"cp1": "v1.37.1"}, map[string]string{"w1": "v1.37.2"}, ""},
		{"garbage", map[string]string{"cp1": "latest"}, map[string]string{}, `reports "latest"`},
	}
	for _, c := range cases {
		got := strings.Join(skewProblems(c.api, c.kubelets), "; ")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want %q", c.name, got, c.want)
		}
	}
}

func TestGitVersion(t *testing.T) {
	if v := gitVersion([]byte(`{"major": "1", "gitVersion": "v1.37.2", "gitCommit": "x"}`)); v != "v1.37.2" {
		t.Errorf("gitVersion = %q", v)
	}
}
