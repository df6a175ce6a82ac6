package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// rtprotHachaos is the routing protocol number ("proto 107" in `ip route`)
// that marks this daemon's routes. It is unassigned in iproute2's
// rt_protos, so a route carrying it is ours; everything else is left alone.
// Add "107 hachaos" to /etc/iproute2/rt_protos to see the name.
const rtprotHachaos netlink.RouteProtocol = 0x6b

// rtTableMain is RT_TABLE_MAIN, the table `ip route` shows by default.
const rtTableMain = 254

// dumpRetries is how often a route dump that the kernel interrupted (the
// table changed meanwhile) is tried again before giving up until next sync.
const dumpRetries = 3

// netlinkRoutes is the host's main IPv4 routing table through netlink.
type netlinkRoutes struct{}

var _ routeTable = netlinkRoutes{}

// List implements routeTable.
func (netlinkRoutes) List() (map[string]net.IP, map[string]bool, error) {
	filter := &netlink.Route{Table: rtTableMain}
	var (
		routes []netlink.Route
		err    error
	)
	for range dumpRetries {
		routes, err = netlink.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_TABLE)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dump main IPv4 table: %w", err)
	}
	own, foreign := map[string]net.IP{}, map[string]bool{}
	for _, r := range routes {
		if r.Dst == nil {
			continue // a default route; never ours
		}
		dst := r.Dst.String()
		if r.Protocol != rtprotHachaos {
			foreign[dst] = true
			continue
		}
		own[dst] = r.Gw.To4()
	}
	return own, foreign, nil
}

// Replace implements routeTable.
func (netlinkRoutes) Replace(dst *net.IPNet, gw net.IP) error {
	return netlink.RouteReplace(ownRoute(dst, gw))
}

// Delete implements routeTable. The kernel matches the protocol too, so this
// cannot remove another protocol's route to the same destination.
func (netlinkRoutes) Delete(dst *net.IPNet, gw net.IP) error {
	return netlink.RouteDel(ownRoute(dst, gw))
}

func ownRoute(dst *net.IPNet, gw net.IP) *netlink.Route {
	return &netlink.Route{
		Dst:      dst,
		Gw:       gw,
		Table:    rtTableMain,
		Protocol: rtprotHachaos,
		Scope:    netlink.SCOPE_UNIVERSE,
	}
}
