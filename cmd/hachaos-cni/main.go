// Command hachaos-cni is the pod network of hachaos's offline kind clusters.
//
// kind installs kindnetd as its default CNI, but kindnetd is not served by
// the Go module proxy, so it cannot be built where hachaos builds its node
// image. On kind's network every node sits on one L2 segment, and there all a
// pod network needs is what this daemon does: it writes a ptp + host-local +
// portmap CNI configuration for its own node's podCIDR to /etc/cni/net.d (the
// plugins themselves come from Debian's containernetworking-plugins in
// /opt/cni/bin), and it keeps a route "podCIDR via InternalIP" in the main
// table for every other node.
//
// It runs as a hostNetwork DaemonSet (scripts/images/node/default-cni.yaml,
// which kind applies at cluster creation). It owns only routes carrying its
// own routing protocol number (rtprotHachaos), never touches any other route,
// and leaves its routes in place when it stops, as kindnetd does, so that
// restarting the daemon does not disturb pod traffic.
//
// It must not do anything beyond that: no masquerading, no network policy,
// no IPv6.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const (
	// confDir is where the container runtime looks for CNI configuration;
	// the DaemonSet mounts the host's directory at the same path.
	confDir = "/etc/cni/net.d"
	// confName sorts first among the usual names, so the runtime picks it.
	confName = "10-hachaos.conflist"
	// resyncPeriod is how often the informer replays every Node, so routes
	// that someone else removed come back within this time.
	resyncPeriod = 30 * time.Second
	// retryDelay is how long to wait before trying again after a failed sync,
	// instead of waiting for the next resync.
	retryDelay = 5 * time.Second
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.LUTC)
	log.SetPrefix("hachaos-cni: ")
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// run starts the Node informer and syncs the node's CNI config and routes on
// every Node event until SIGTERM or SIGINT.
func run() error {
	nodeName := os.Getenv("NODE_NAME")
	if nodeName == "" {
		return errors.New("NODE_NAME is not set (the DaemonSet passes spec.nodeName through the downward API)")
	}
	// POD_SUBNET is kind's networking.podSubnet, templated into the manifest;
	// it is only logged, the routes come from each Node's spec.podCIDRs.
	log.Printf("starting on node %s, cluster pod subnet %q", nodeName, os.Getenv("POD_SUBNET"))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("load in-cluster config: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create Kubernetes client: %w", err)
	}

	factory := informers.NewSharedInformerFactory(client, resyncPeriod)
	// Shutdown waits for the informer goroutines, which end once ctx is done.
	defer func() {
		stop()
		factory.Shutdown()
	}()
	nodes := factory.Core().V1().Nodes()
	kick := make(chan struct{}, 1)
	if _, err := nodes.Informer().AddEventHandler(kicker(kick)); err != nil {
		return fmt.Errorf("register Node event handler: %w", err)
	}
	factory.Start(ctx.Done())

	log.Printf("waiting for the Node informer to sync")
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		if ctx.Err() != nil {
			log.Printf("stopped before the Node informer synced")
			return nil
		}
		return errors.New("Node informer did not sync")
	}
	d := &daemon{
		self:     nodeName,
		confPath: filepath.Join(confDir, confName),
		nodes:    nodes.Lister(),
		routes:   netlinkRoutes{},
	}
	d.loop(ctx, kick)
	log.Printf("terminating: informer stopped, routes left in place")
	return nil
}

// kicker returns an event handler that asks for a sync on every Node event
// (including resyncs); a pending request absorbs further ones.
func kicker(kick chan<- struct{}) cache.ResourceEventHandlerFuncs {
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
}

// daemon holds what one sync needs: which node this is, where the CNI config
// goes, the informer's view of all Nodes, and the host routing table.
type daemon struct {
	self     string
	confPath string
	nodes    listersv1.NodeLister
	routes   routeTable
	// waiting is set once "waiting for podCIDR" was logged, so it is
	// logged once rather than every resync.
	waiting bool
}

// loop syncs once now and then after every kick, and again retryDelay after a
// sync that failed, until ctx is done.
func (d *daemon) loop(ctx context.Context, kick <-chan struct{}) {
	var retry <-chan time.Time
	for {
		if err := d.sync(); err != nil {
			log.Printf("sync failed, retrying in %s: %v", retryDelay, err)
			retry = time.After(retryDelay)
		} else {
			retry = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-retry:
		}
	}
}

// sync writes this node's CNI config (once it has a podCIDR) and reconciles
// the routes to the other nodes' podCIDRs. Both are attempted; errors are
// joined.
func (d *daemon) sync() error {
	all, err := d.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list Nodes from the informer cache: %w", err)
	}
	return errors.Join(d.syncConfig(all), d.syncRoutes(all))
}

// syncConfig writes the CNI config for this node's IPv4 podCIDR if it changed.
func (d *daemon) syncConfig(all []*corev1.Node) error {
	var cidr string
	for _, n := range all {
		if n.Name == d.self {
			cidr = podCIDRv4(n)
		}
	}
	if cidr == "" {
		if !d.waiting {
			log.Printf("waiting for node %s to get an IPv4 podCIDR", d.self)
			d.waiting = true
		}
		return nil
	}
	d.waiting = false
	data, err := conflist(cidr)
	if err != nil {
		return fmt.Errorf("render CNI config for %s: %w", cidr, err)
	}
	changed, err := writeFileAtomic(d.confPath, data, 0o644)
	if err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if changed {
		log.Printf("config written: %s for podCIDR %s", d.confPath, cidr)
	}
	return nil
}

// syncRoutes makes this daemon's routes match the other nodes' podCIDRs.
func (d *daemon) syncRoutes(all []*corev1.Node) error {
	return reconcileRoutes(d.routes, desiredRoutes(d.self, all))
}
