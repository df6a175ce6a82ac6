//go:build netns

// This test edits a real routing table, so it runs only in a network
// namespace of its own, made without root by unshare:
//
//	go test -c -tags netns -o /tmp/hachaos-cni.test ./cmd/hachaos-cni
//	unshare -rn /tmp/hachaos-cni.test -test.run Netlink -test.v
//
// It refuses to run where any interface other than lo exists.

package main

import (
	"net"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestNetlinkRoutes(t *testing.T) {
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			t.Skipf("interface %s exists: not an empty network namespace, run under `unshare -rn`", l.Attrs().Name)
		}
	}
	// A kind-like node: eth0 on 172.18.0.0/16, and a static route that is
	// not ours to the same kind of destination.
	// (A veth pair rather than a dummy: not every kernel has the dummy module.)
	eth0 := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0"}
	must(t, netlink.LinkAdd(eth0))
	peer, err := netlink.LinkByName("peer0")
	must(t, err)
	must(t, netlink.LinkSetUp(peer))
	must(t, netlink.LinkSetUp(eth0))
	addr, err := netlink.ParseAddr("172.18.0.2/16")
	must(t, err)
	must(t, netlink.AddrAdd(eth0, addr))
	_, static, _ := net.ParseCIDR("10.244.9.0/24")
	must(t, netlink.RouteAdd(&netlink.Route{
		Dst: static, Gw: net.ParseIP("172.18.0.9"), Table: rtTableMain, Protocol: netlink.RouteProtocol(4), // "static"
	}))

	table := netlinkRoutes{}
	steps := []struct {
		name    string
		desired map[string]string
		wantOwn map[string]string
	}{
		{
			name:    "add",
			desired: map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.2.0/24": "172.18.0.4", "10.244.9.0/24": "172.18.0.5"},
			wantOwn: map[string]string{"10.244.1.0/24": "172.18.0.3", "10.244.2.0/24": "172.18.0.4"},
		},
		{
			name:    "change and remove",
			desired: map[string]string{"10.244.1.0/24": "172.18.0.7"},
			wantOwn: map[string]string{"10.244.1.0/24": "172.18.0.7"},
		},
		{
			name:    "remove all",
			desired: map[string]string{},
			wantOwn: map[string]string{},
		},
	}
	for _, s := range steps {
		if err := reconcileRoutes(table, ips(s.desired)); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		own, foreign, err := table.List()
		must(t, err)
		if got := str(own); !reflect.DeepEqual(got, s.wantOwn) {
			t.Errorf("%s: own routes = %v, want %v", s.name, got, s.wantOwn)
		}
		// The connected route of eth0 and the static route survive every step.
		for _, dst := range []string{"172.18.0.0/16", "10.244.9.0/24"} {
			if !foreign[dst] {
				t.Errorf("%s: route to %s (not ours) is gone; foreign = %v", s.name, dst, foreign)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
