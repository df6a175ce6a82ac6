package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// The CNI config, field for field as ptp, host-local and portmap read it.
// containernetworking-plugins 1.1.1 (Debian bookworm) and containerd 1.6
// speak CNI spec 1.0.0.
type (
	netConfList struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []any  `json:"plugins"`
	}
	ptpConf struct {
		Type   string        `json:"type"`
		IPMasq bool          `json:"ipMasq"`
		MTU    int           `json:"mtu"`
		IPAM   hostLocalIPAM `json:"ipam"`
	}
	hostLocalIPAM struct {
		Type    string        `json:"type"`
		Ranges  [][]ipamRange `json:"ranges"`
		Routes  []ipamRoute   `json:"routes"`
		DataDir string        `json:"dataDir"`
	}
	ipamRange struct {
		Subnet string `json:"subnet"`
	}
	ipamRoute struct {
		Dst string `json:"dst"`
	}
	portmapConf struct {
		Type         string          `json:"type"`
		Capabilities map[string]bool `json:"capabilities"`
	}
)

// conflist renders the CNI config list for a node whose IPv4 podCIDR is
// podCIDR: a ptp veth per pod with an address from podCIDR (host-local keeps
// its leases under /run, so they go away with the node container) and a
// default route through the host, then portmap for hostPort.
//
// ipMasq is off: traffic between pods and nodes keeps the pod's source
// address, which works because every node routes every podCIDR. Traffic from
// pods to anything that is not a node (the Docker host, other containers on
// kind's network) is not masqueraded, so those see pod addresses they cannot
// route back to.
func conflist(podCIDR string) ([]byte, error) {
	cidr, err := parseCIDRv4(podCIDR)
	if err != nil {
		return nil, err
	}
	c := netConfList{
		CNIVersion: "1.0.0",
		Name:       "hachaos",
		Plugins: []any{
			ptpConf{
				Type:   "ptp",
				IPMasq: false,
				MTU:    1500,
				IPAM: hostLocalIPAM{
					Type:    "host-local",
					Ranges:  [][]ipamRange{{{Subnet: cidr.String()}}},
					Routes:  []ipamRoute{{Dst: "0.0.0.0/0"}},
					DataDir: "/run/cni-ipam-state",
				},
			},
			portmapConf{
				Type:         "portmap",
				Capabilities: map[string]bool{"portMappings": true},
			},
		},
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode CNI config: %w", err)
	}
	return append(data, '\n'), nil
}

// parseCIDRv4 parses an IPv4 CIDR and returns its network (host bits cleared).
func parseCIDRv4(s string) (*net.IPNet, error) {
	ip, cidr, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("parse podCIDR %q: %w", s, err)
	}
	if ip.To4() == nil || len(cidr.Mask) != net.IPv4len {
		return nil, fmt.Errorf("podCIDR %q is not IPv4", s)
	}
	cidr.IP = cidr.IP.To4()
	return cidr, nil
}

// writeFileAtomic makes path hold data, through a temporary file in the same
// directory and a rename, so that the container runtime, which watches the
// directory, never reads a half-written config. It writes nothing when path
// already holds data, and says whether it wrote.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (changed bool, err error) {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	// The temporary name ends in neither .conf, .conflist nor .json, so the
	// runtime ignores it.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			// Best effort: the write already failed and says why.
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return false, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	return true, nil
}
