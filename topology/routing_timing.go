package topology

import (
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// The defaults of the settings that delay taking a lost node's Pods out of a Service:
// kube-controller-manager's --endpointslice-updates-batch-period (EndpointSlice updates
// are written at once) and kube-proxy's minSyncPeriod (its rules are rewritten at most
// this often after a change), for both the iptables and the nftables mode.
const (
	EndpointSliceBatchPeriod = 0
	KubeProxyMinSyncPeriod   = time.Second
)

// RoutingTimings are those settings as the running components use them.
type RoutingTimings struct {
	EndpointSliceBatchPeriod Setting
	KubeProxyMinSyncPeriod   Setting
}

// DefaultRoutingTimings are the components' defaults.
func DefaultRoutingTimings() RoutingTimings {
	return RoutingTimings{
		EndpointSliceBatchPeriod: Setting{EndpointSliceBatchPeriod, "kube-controller-manager default (flag not set)"},
		KubeProxyMinSyncPeriod:   Setting{KubeProxyMinSyncPeriod, "kube-proxy default (not set in its configuration)"},
	}
}

// ParseRoutingTimings reads --endpointslice-updates-batch-period from the
// kube-controller-manager command lines (by node; they must agree) and minSyncPeriod of
// kube-proxy's mode from its KubeProxyConfiguration (the kube-proxy ConfigMap's
// config.conf, as kubeadm writes it).
func ParseRoutingTimings(controllerManagers map[string]string, kubeProxyConfig string) (RoutingTimings, error) {
	t := DefaultRoutingTimings()
	batch, err := agreedFlag(controllerManagers, "--endpointslice-updates-batch-period", time.ParseDuration)
	if err != nil {
		return RoutingTimings{}, fmt.Errorf("kube-controller-manager --endpointslice-updates-batch-period: %w", err)
	}
	if batch > 0 {
		t.EndpointSliceBatchPeriod = Setting{batch, "kube-controller-manager --endpointslice-updates-batch-period on " + strings.Join(sortedKeys(controllerManagers), ", ")}
	}
	var cfg struct {
		Mode     string                         `json:"mode"`
		IPTables struct{ MinSyncPeriod string } `json:"iptables"`
		NFTables struct{ MinSyncPeriod string } `json:"nftables"`
	}
	if err := yaml.Unmarshal([]byte(kubeProxyConfig), &cfg); err != nil {
		return RoutingTimings{}, fmt.Errorf("kube-proxy configuration: %w", err)
	}
	mode, minSync := "iptables", cfg.IPTables.MinSyncPeriod
	if cfg.Mode == "nftables" {
		mode, minSync = "nftables", cfg.NFTables.MinSyncPeriod
	} else if cfg.Mode != "" && cfg.Mode != "iptables" {
		return RoutingTimings{}, fmt.Errorf("kube-proxy mode %q: only iptables and nftables have a known sync period", cfg.Mode)
	}
	// a zero minSyncPeriod is unset: kube-proxy defaults it to 1s
	if minSync != "" && minSync != "0s" {
		d, err := time.ParseDuration(minSync)
		if err != nil || d < 0 {
			return RoutingTimings{}, fmt.Errorf("kube-proxy %s.minSyncPeriod %q is not a duration ≥ 0", mode, minSync)
		}
		t.KubeProxyMinSyncPeriod = Setting{d, fmt.Sprintf("kube-proxy %s.minSyncPeriod (kube-system/kube-proxy config.conf)", mode)}
	}
	return t, nil
}
