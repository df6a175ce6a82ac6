package main

import (
	"errors"
	"fmt"
	"log"
	"maps"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// routeTable is the host's main IPv4 routing table as this daemon sees it.
type routeTable interface {
	// List returns this daemon's own routes (destination → gateway) and the
	// destinations that routes of any other protocol hold.
	List() (own map[string]net.IP, foreign map[string]bool, err error)
	// Replace installs or updates this daemon's route to dst via gw.
	Replace(dst *net.IPNet, gw net.IP) error
	// Delete removes this daemon's route to dst via gw, and no other.
	Delete(dst *net.IPNet, gw net.IP) error
}

// routeChange is one route to install, change or remove. Old is the gateway
// the route had before (nil for a new route); Gw the one it gets, or has when
// it is removed.
type routeChange struct {
	Dst string
	Gw  net.IP
	Old net.IP
}

// routePlan is what reconciling the routing table takes.
type routePlan struct {
	// Replace holds routes to add (Old is nil) or to point at a new gateway.
	Replace []routeChange
	// Delete holds own routes to destinations no node has any more.
	Delete []routeChange
	// Blocked holds wanted routes whose destination a route of another
	// protocol already holds; they are left alone.
	Blocked []routeChange
}

// podCIDRv4 returns the node's IPv4 podCIDR as a network ("10.244.1.0/24"),
// or "" if it has none. spec.podCIDRs wins over the older spec.podCIDR.
func podCIDRv4(n *corev1.Node) string {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if cidr, err := parseCIDRv4(c); err == nil {
			return cidr.String()
		}
	}
	return ""
}

// internalIPv4 returns the node's first IPv4 InternalIP address, or nil.
func internalIPv4(n *corev1.Node) net.IP {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip := net.ParseIP(a.Address).To4(); ip != nil {
			return ip
		}
	}
	return nil
}

// desiredRoutes returns, for every node other than self that has an IPv4
// podCIDR and an IPv4 InternalIP, the route podCIDR → InternalIP. Should two
// nodes claim the same podCIDR, the first by name wins; a podCIDR equal to
// self's own is never routed elsewhere.
func desiredRoutes(self string, nodes []*corev1.Node) map[string]net.IP {
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	var own string
	for _, n := range sorted {
		if n.Name == self {
			own = podCIDRv4(n)
		}
	}
	routes := map[string]net.IP{}
	for _, n := range sorted {
		if n.Name == self {
			continue
		}
		cidr, gw := podCIDRv4(n), internalIPv4(n)
		if cidr == "" || gw == nil || cidr == own {
			continue
		}
		if _, taken := routes[cidr]; !taken {
			routes[cidr] = gw
		}
	}
	return routes
}

// diffRoutes compares the wanted routes with the daemon's own current ones.
// A wanted destination that is missing or has another gateway is replaced,
// unless a route of another protocol holds it (blocked); an own route to a
// destination no longer wanted is deleted. Every list is sorted by Dst.
func diffRoutes(desired, own map[string]net.IP, foreign map[string]bool) routePlan {
	var p routePlan
	for _, dst := range slices.Sorted(maps.Keys(desired)) {
		gw, old := desired[dst], own[dst]
		switch {
		case old.Equal(gw):
		case foreign[dst]:
			p.Blocked = append(p.Blocked, routeChange{Dst: dst, Gw: gw, Old: old})
		default:
			p.Replace = append(p.Replace, routeChange{Dst: dst, Gw: gw, Old: old})
		}
	}
	for _, dst := range slices.Sorted(maps.Keys(own)) {
		if _, ok := desired[dst]; !ok {
			p.Delete = append(p.Delete, routeChange{Dst: dst, Gw: own[dst]})
		}
	}
	return p
}

// reconcileRoutes makes the daemon's own routes in t match desired, logging
// every change. It goes on past a failed route and returns all failures.
func reconcileRoutes(t routeTable, desired map[string]net.IP) error {
	own, foreign, err := t.List()
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	p := diffRoutes(desired, own, foreign)
	// A blocked route is not an error to retry at once: it stays blocked
	// until whoever owns the other route removes it. It is logged on every
	// sync, that is at least every resyncPeriod.
	for _, c := range p.Blocked {
		log.Printf("route skipped: %s via %s, a route of another protocol holds %s", c.Dst, c.Gw, c.Dst)
	}
	var errs []error
	for _, c := range p.Replace {
		_, dst, err := net.ParseCIDR(c.Dst)
		if err == nil {
			err = t.Replace(dst, c.Gw)
		}
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("replace route %s via %s: %w", c.Dst, c.Gw, err))
		case c.Old == nil:
			log.Printf("route added: %s via %s", c.Dst, c.Gw)
		default:
			log.Printf("route changed: %s via %s (was via %s)", c.Dst, c.Gw, c.Old)
		}
	}
	for _, c := range p.Delete {
		_, dst, err := net.ParseCIDR(c.Dst)
		if err == nil {
			err = t.Delete(dst, c.Gw)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete route %s via %s: %w", c.Dst, c.Gw, err))
			continue
		}
		log.Printf("route removed: %s via %s", c.Dst, c.Gw)
	}
	return errors.Join(errs...)
}
