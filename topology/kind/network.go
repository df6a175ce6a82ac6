package kind

import (
	"context"
	"fmt"
	"net/netip"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Each topology gets its own Docker network, named after the cluster, instead of kind's
// shared "kind" network: it needs a subnet configured by hand (Docker only assigns fixed
// addresses, which external etcd members and the replaced load balancer need, on such
// networks), and Delete can remove it without touching other clusters. kind is pointed
// at it with KIND_EXPERIMENTAL_DOCKER_NETWORK.
func networkName(cluster string) string { return cluster + "-net" }

// Dynamic addresses come from the lower half of the /24; the upper half is for the
// fixed addresses hachaos assigns (etcd members from .250 down).
const (
	subnetBits        = 24
	dynamicRangeBits  = 25
	firstFixedHostOff = 250
)

// ensureNetwork creates the cluster's network if absent and returns its IPv4 subnet.
func (d *docker) ensureNetwork(ctx context.Context, cluster string) (netip.Prefix, error) {
	name := networkName(cluster)
	if subnet, err := d.networkSubnet(ctx, name); err == nil {
		return subnet, nil
	} else if !cerrdefs.IsNotFound(err) {
		return netip.Prefix{}, err
	}
	subnet, err := d.freeSubnet(ctx)
	if err != nil {
		return netip.Prefix{}, err
	}
	base := subnet.Addr().As4()
	gateway := netip.AddrFrom4([4]byte{base[0], base[1], base[2], 1})
	_, err = d.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge",
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{
			Subnet: subnet, IPRange: netip.PrefixFrom(subnet.Addr(), dynamicRangeBits), Gateway: gateway,
		}}},
		// the same options kind gives its own network
		Options: map[string]string{"com.docker.network.bridge.enable_ip_masquerade": "true", "com.docker.network.driver.mtu": "1500"},
		Labels:  map[string]string{hachaosClusterLabel: cluster},
	})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("create network %s (%s): %w", name, subnet, err)
	}
	return subnet, nil
}

func (d *docker) networkSubnet(ctx context.Context, name string) (netip.Prefix, error) {
	res, err := d.cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return netip.Prefix{}, err
	}
	for _, c := range res.Network.IPAM.Config {
		if c.Subnet.Addr().Is4() {
			return c.Subnet, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("network %s has no IPv4 subnet", name)
}

// freeSubnet picks the first 172.29.N.0/24 that overlaps no existing Docker network.
func (d *docker) freeSubnet(ctx context.Context) (netip.Prefix, error) {
	res, err := d.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list networks: %w", err)
	}
	var used []netip.Prefix
	for _, n := range res.Items {
		for _, c := range n.IPAM.Config {
			used = append(used, c.Subnet)
		}
	}
	return pickFreeSubnet(used)
}

func pickFreeSubnet(used []netip.Prefix) (netip.Prefix, error) {
	for n := 0; n < 256; n++ {
		candidate := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 29, byte(n), 0}), subnetBits)
		free := true
		for _, u := range used {
			if u.IsValid() && u.Overlaps(candidate) {
				free = false
				break
			}
		}
		if free {
			return candidate, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 left in 172.29.0.0/16 for a new cluster network")
}

// fixedAddress is the i-th (0-based) address hachaos assigns by hand in subnet.
func fixedAddress(subnet netip.Prefix, i int) netip.Addr {
	b := subnet.Addr().As4()
	b[3] = byte(firstFixedHostOff - i)
	return netip.AddrFrom4(b)
}

func (d *docker) removeNetwork(ctx context.Context, cluster string) error {
	_, err := d.cli.NetworkRemove(ctx, networkName(cluster), client.NetworkRemoveOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove network %s: %w", networkName(cluster), err)
	}
	return nil
}
