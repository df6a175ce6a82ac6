package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// node builds a Node; addrs alternate type and address.
func node(name string, podCIDRs []string, addrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Spec.PodCIDRs = podCIDRs
	if len(podCIDRs) > 0 {
		n.Spec.PodCIDR = podCIDRs[0]
	}
	for i := 0; i+1 < len(addrs); i += 2 {
		n.Status.Addresses = append(n.Status.Addresses,
			corev1.NodeAddress{Type: corev1.NodeAddressType(addrs[i]), Address: addrs[i+1]})
	}
	return n
}

func ips(m map[string]string) map[string]net.IP {
	out := map[string]net.IP{}
	for k, v := range m {
		out[k] = net.ParseIP(v).To4()
	}
	return out
}

// str turns a route map into something reflect.DeepEqual and %v handle well.
func str(m map[string]net.IP) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v.String()
	}
	return out
}

func TestDesiredRoutes(t *testing.T) {
	const internal, external, hostname = "InternalIP", "ExternalIP", "Hostname"
	onlyLegacy := node("w3", nil, internal, "172.18.0.6")
	onlyLegacy.Spec.PodCIDR = "10.244.3.0/24"

	tests := []struct {
		name  string
		self  string
		nodes []*corev1.Node
		want  map[string]string
	}{
		{
			name: "kind HA cluster",
			self: "cp1",
			nodes: []*corev1.Node{
				node("cp1", []string{"10.244.0.0/24"}, internal, "172.18.0.2"),
				node("cp2", []string{"10.244.1.0/24"}, internal, "172.18.0.3", hostname, "cp2"),
				node("cp3", []string{"10.244.2.0/24"}, internal, "172.18.0.4"),
				node("w1", []string{"10.244.3.0/24"}, internal, "172.18.0.5"),
			},
			want: map[string]string{
				"10.244.1.0/24": "172.18.0.3",
				"10.244.2.0/24": "172.18.0.4",
				"10.244.3.0/24": "172.18.0.5",
			},
		},
		{
			name: "self unknown yet: every node is routed",
			self: "w9",
			nodes: []*corev1.Node{
				node("cp1", []string{"10.244.0.0/24"}, internal, "172.18.0.2"),
			},
			want: map[string]string{"10.244.0.0/24": "172.18.0.2"},
		},
		{
			name: "nodes without podCIDR or InternalIP are skipped",
			self: "cp1",
			nodes: []*corev1.Node{
				node("cp1", []string{"10.244.0.0/24"}, internal, "172.18.0.2"),
				node("new", nil, internal, "172.18.0.3"),
				node("noaddr", []string{"10.244.2.0/24"}),
				node("extonly", []string{"10.244.3.0/24"}, external, "203.0.113.4", hostname, "extonly"),
				node("badcidr", []string{"10.244.4.0"}, internal, "172.18.0.5"),
			},
			want: map[string]string{},
		},
		{
			name: "dual stack: the IPv4 podCIDR and InternalIP are used",
			self: "cp1",
			nodes: []*corev1.Node{
				node("cp2", []string{"fd00:10:244:1::/64", "10.244.1.0/24"},
					internal, "fc00:f853:ccd:e793::3", internal, "172.18.0.3"),
				node("v6only", []string{"fd00:10:244:2::/64"}, internal, "fc00:f853:ccd:e793::4"),
			},
			want: map[string]string{"10.244.1.0/24": "172.18.0.3"},
		},
		{
			name:  "legacy spec.podCIDR only",
			self:  "cp1",
			nodes: []*corev1.Node{onlyLegacy},
			want:  map[string]string{"10.244.3.0/24": "172.18.0.6"},
		},
		{
			name: "podCIDR is normalised to its network",
			self: "cp1",
			nodes: []*corev1.Node{
				node("cp2", []string{"10.244.1.9/24"}, internal, "172.18.0.3"),
			},
			want: map[string]string{"10.244.1.0/24": "172.18.0.3"},
		},
		{
			name: "duplicate podCIDR: first by name wins, whatever the order",
			self: "cp1",
			nodes: []*corev1.Node{
				node("w2", []string{"10.244.5.0/24"}, internal, "172.18.0.6"),
				node("w1", []string{"10.244.5.0/24"}, internal, "172.18.0.5"),
			},
			want: map[string]string{"10.244.5.0/24": "172.18.0.5"},
		},
		{
			name: "another node claiming self's podCIDR is not routed",
			self: "cp1",
			nodes: []*corev1.Node{
				node("cp1", []string{"10.244.0.0/24"}, internal, "172.18.0.2"),
				node("cp2", []string{"10.244.0.0/24"}, internal, "172.18.0.3"),
			},
			want: map[string]string{},
		},
		{name: "no nodes", self: "cp1", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := str(desiredRoutes(tt.self, tt.nodes))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("desiredRoutes(%q) = %v, want %v", tt.self, got, tt.want)
			}
		})
	}
}

func TestDiffRoutes(t *testing.T) {
	type change = [3]string // Dst, Gw, Old ("<nil>" when none)
	tests := []struct {
		name         string
		desired, own map[string]string
		foreign      []string
		wantReplace  []change
		wantDelete   []change
		wantBlocked  []change
	}{
		{name: "nothing to do"},
		{
			name:    "in sync",
			desired: map[string]string{"10.244.1.0/24": "172.18.0.3"},
			own:     map[string]string{"10.244.1.0/24": "172.18.0.3"},
			foreign: []string{"172.18.0.0/16"},
		},
		{
			name:        "new routes, sorted",
			desired:     map[string]string{"10.244.2.0/24": "172.18.0.4", "10.244.1.0/24": "172.18.0.3"},
			wantReplace: []change{{"10.244.1.0/24", "172.18.0.3", "<nil>"}, {"10.244.2.0/24", "172.18.0.4", "<nil>"}},
		},
		{
			name:        "gateway changed",
			desired:     map[string]string{"10.244.1.0/24": "172.18.0.9"},
			own:         map[string]string{"10.244.1.0/24": "172.18.0.3"},
			wantReplace: []change{{"10.244.1.0/24", "172.18.0.9", "172.18.0.3"}},
		},
		{
			name:       "node gone",
			own:        map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.2.0/24": "172.18.0.4"},
			desired:    map[string]string{"10.244.2.0/24": "172.18.0.4"},
			wantDelete: []change{{"10.244.1.0/24", "172.18.0.3", "<nil>"}},
		},
		{
			name:        "another protocol's route is left alone",
			desired:     map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.2.0/24": "172.18.0.4"},
			foreign:     []string{"10.244.1.0/24"},
			wantReplace: []change{{"10.244.2.0/24", "172.18.0.4", "<nil>"}},
			wantBlocked: []change{{"10.244.1.0/24", "172.18.0.3", "<nil>"}},
		},
		{
			name:    "foreign routes are never deleted",
			foreign: []string{"10.244.7.0/24", "172.18.0.0/16"},
		},
		{
			name:        "all together",
			desired:     map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.3.0/24": "172.18.0.5", "10.244.4.0/24": "172.18.0.6"},
			own:         map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.2.0/24": "172.18.0.4", "10.244.3.0/24": "172.18.0.2"},
			foreign:     []string{"10.244.4.0/24"},
			wantReplace: []change{{"10.244.3.0/24", "172.18.0.5", "172.18.0.2"}},
			wantDelete:  []change{{"10.244.2.0/24", "172.18.0.4", "<nil>"}},
			wantBlocked: []change{{"10.244.4.0/24", "172.18.0.6", "<nil>"}},
		},
	}
	changes := func(cs []routeChange) []change {
		var out []change
		for _, c := range cs {
			out = append(out, change{c.Dst, c.Gw.String(), c.Old.String()})
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			foreign := map[string]bool{}
			for _, f := range tt.foreign {
				foreign[f] = true
			}
			p := diffRoutes(ips(tt.desired), ips(tt.own), foreign)
			if got := changes(p.Replace); !reflect.DeepEqual(got, tt.wantReplace) {
				t.Errorf("Replace = %v, want %v", got, tt.wantReplace)
			}
			if got := changes(p.Delete); !reflect.DeepEqual(got, tt.wantDelete) {
				t.Errorf("Delete = %v, want %v", got, tt.wantDelete)
			}
			if got := changes(p.Blocked); !reflect.DeepEqual(got, tt.wantBlocked) {
				t.Errorf("Blocked = %v, want %v", got, tt.wantBlocked)
			}
		})
	}
}

// fakeTable is a routeTable in memory; failing makes Replace/Delete of
// those destinations fail.
type fakeTable struct {
	own     map[string]net.IP
	foreign map[string]bool
	failing map[string]bool
	listErr error
	calls   []string
}

func (f *fakeTable) List() (map[string]net.IP, map[string]bool, error) {
	return maps.Clone(f.own), maps.Clone(f.foreign), f.listErr
}

func (f *fakeTable) Replace(dst *net.IPNet, gw net.IP) error {
	f.calls = append(f.calls, fmt.Sprintf("replace %s via %s", dst, gw))
	if f.failing[dst.String()] {
		return errors.New("network is unreachable")
	}
	f.own[dst.String()] = gw
	return nil
}

func (f *fakeTable) Delete(dst *net.IPNet, gw net.IP) error {
	f.calls = append(f.calls, fmt.Sprintf("delete %s via %s", dst, gw))
	if f.failing[dst.String()] {
		return errors.New("no such process")
	}
	delete(f.own, dst.String())
	return nil
}

func TestReconcileRoutes(t *testing.T) {
	tests := []struct {
		name      string
		table     fakeTable
		desired   map[string]string
		wantCalls []string
		wantOwn   map[string]string
		wantErr   bool
	}{
		{
			name: "add, change and delete",
			table: fakeTable{
				own:     ips(map[string]string{"10.244.2.0/24": "172.18.0.4", "10.244.3.0/24": "172.18.0.2"}),
				foreign: map[string]bool{"172.18.0.0/16": true},
			},
			desired: map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.3.0/24": "172.18.0.5"},
			wantCalls: []string{
				"replace 10.244.1.0/24 via 172.18.0.3",
				"replace 10.244.3.0/24 via 172.18.0.5",
				"delete 10.244.2.0/24 via 172.18.0.4",
			},
			wantOwn: map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.3.0/24": "172.18.0.5"},
		},
		{
			name: "a failed route does not stop the others",
			table: fakeTable{
				own:     ips(map[string]string{"10.244.9.0/24": "172.18.0.9"}),
				failing: map[string]bool{"10.244.1.0/24": true},
			},
			desired: map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.2.0/24": "172.18.0.4"},
			wantCalls: []string{
				"replace 10.244.1.0/24 via 172.18.0.3",
				"replace 10.244.2.0/24 via 172.18.0.4",
				"delete 10.244.9.0/24 via 172.18.0.9",
			},
			wantOwn: map[string]string{"10.244.2.0/24": "172.18.0.4"},
			wantErr: true,
		},
		{
			name: "blocked by another protocol: untouched, not an error",
			table: fakeTable{
				own:     map[string]net.IP{},
				foreign: map[string]bool{"10.244.1.0/24": true},
			},
			desired: map[string]string{"10.244.1.0/24": "172.18.0.3"},
			wantOwn: map[string]string{},
		},
		{
			name:    "list fails: nothing is changed",
			table:   fakeTable{own: ips(map[string]string{"10.244.2.0/24": "172.18.0.4"}), listErr: errors.New("dump interrupted")},
			wantOwn: map[string]string{"10.244.2.0/24": "172.18.0.4"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reconcileRoutes(&tt.table, ips(tt.desired))
			if (err != nil) != tt.wantErr {
				t.Errorf("reconcileRoutes error = %v, want error: %v", err, tt.wantErr)
			}
			if !slices.Equal(tt.table.calls, tt.wantCalls) {
				t.Errorf("calls = %q, want %q", tt.table.calls, tt.wantCalls)
			}
			if got := str(tt.table.own); !reflect.DeepEqual(got, tt.wantOwn) {
				t.Errorf("own routes = %v, want %v", got, tt.wantOwn)
			}
		})
	}
}
