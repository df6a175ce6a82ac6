package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/client-go/kubernetes"

	"github.com/hachaos/hachaos/apicheck"
	"github.com/hachaos/hachaos/dataplane"
	"github.com/hachaos/hachaos/probe"
	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/cluster"
)

// Input says what to observe.
type Input struct {
	Spec     topology.Spec
	Provider cluster.Provider
	// Traffic starts etcd traffic: two clients writing and reading keys of their own,
	// every operation recorded in a history (probe.KVHistory).
	Traffic bool
	// APITraffic starts Kubernetes API traffic through the LB with a recorded history
	// and watchers (package apicheck).
	APITraffic bool
	// Workload, when set, is sampled into SeriesWorkload (ready Pods per node).
	Workload func(c kubernetes.Interface) Check
	// DataPlane are the data-plane workload's NodePorts, one per worker, each probed
	// into dataplane.PrefixSeries+worker (dataplane.Get).
	DataPlane []dataplane.Target
}

// Observation is one recording on one clock: the recorder's series and, when asked for,
// etcd traffic with its history. End stops it; Close releases its clients.
type Observation struct {
	Rec  *probe.Recorder
	stop context.CancelFunc
	etcd *clientv3.Client
	// statusClients ask each member (by client URL) for its status on a kept-alive
	// connection of its own.
	statusClients map[string]*cluster.MemberClient
	members       map[uint64]string // etcd member ID → name
	traffic       *probe.KVTraffic
	prefix        string
	api           *apicheck.Traffic
	apiHistory    apicheck.History
	ended         bool
	timeline      probe.Timeline
	history       probe.KVHistory
}

// Start starts every series of the standard observation; it records until End. The
// series run on a context of their own: ctx ending (a Ctrl-C) stops nothing, so what
// was seen until then is still there for End.
func Start(ctx context.Context, in Input) (*Observation, error) {
	o := &Observation{Rec: probe.NewRecorder()}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	o.stop = stop
	if err := o.start(ctx, rctx, in); err != nil {
		o.Close(ctx)
		return nil, err
	}
	return o, nil
}

func (o *Observation) start(ctx, rctx context.Context, in Input) error {
	lbCfg, err := in.Provider.RESTConfig(ctx)
	if err != nil {
		return err
	}
	direct, err := in.Provider.APIServerConfigs(ctx)
	if err != nil {
		return err
	}
	fresh, err := FreshConnectionGet(lbCfg, "/api/v1/namespaces/default")
	if err != nil {
		return err
	}
	kept, err := KeepAliveGet(lbCfg, "/api/v1/namespaces/default")
	if err != nil {
		return err
	}
	o.Rec.Poll(rctx, SeriesLB, SampleEvery, SampleTimeout, fresh)
	o.Rec.Poll(rctx, SeriesLBKeepAlive, SampleEvery, SampleTimeout, kept)
	for node, cfg := range direct {
		// a kept-alive connection: three servers probed ten times a second on new TLS
		// connections cost the 2-core machine's API servers more than the faults do
		readyz, err := KeepAliveGet(cfg, "/readyz?verbose")
		if err != nil {
			return err
		}
		o.Rec.Poll(rctx, PrefixAPIServer+node, QuorumReadEvery, SampleTimeout, readyz)
	}
	if in.Spec.LBStatesReadable() {
		lb, err := in.Provider.LoadBalancer(ctx)
		if err != nil {
			return err
		}
		for node := range direct {
			o.Rec.Poll(rctx, PrefixBackend+node, SampleEvery, SampleTimeout, BackendState(lb.StatsAddress, node))
			o.Rec.Poll(rctx, PrefixLBRefused+node, LBCountersEvery, SampleTimeout, BackendRefusals(lb.StatsAddress, node))
		}
	}
	skew, err := VersionSkew(lbCfg, direct)
	if err != nil {
		return err
	}
	o.Rec.Poll(rctx, SeriesVersionSkew, LBCountersEvery, SampleTimeout, skew)
	o.Rec.Poll(rctx, SeriesPDB, LBCountersEvery, SampleTimeout, PDBStatus(kubernetes.NewForConfigOrDie(KeepAliveConfig(lbCfg))))
	client, err := FreshConnectionClient(lbCfg)
	if err != nil {
		return err
	}
	for _, name := range LeaderElected {
		o.Rec.Poll(rctx, PrefixLease+name, QuorumReadEvery, SampleTimeout, LeaseHolder(client, name))
	}
	if in.Workload != nil {
		o.Rec.Poll(rctx, SeriesWorkload, SampleEvery, SampleTimeout, in.Workload(kubernetes.NewForConfigOrDie(KeepAliveConfig(lbCfg))))
	}
	for _, t := range in.DataPlane {
		o.Rec.Poll(rctx, dataplane.PrefixSeries+t.Worker, dataplane.Every, SampleTimeout, dataplane.Get(t.Address))
	}
	if in.APITraffic {
		o.api, err = apicheck.Start(rctx, apicheck.Config{
			LB: lbCfg, Namespace: APINamespace, RunID: fmt.Sprintf("api-%d", time.Now().UnixNano()),
			Every: APIEvery, Timeout: KVOpTimeout, CatchUp: APIWatchCatchUp, Clock: o.Rec.Since,
		})
		if err != nil {
			return fmt.Errorf("start API traffic: %w", err)
		}
	}
	return o.startEtcd(ctx, rctx, in)
}

func (o *Observation) startEtcd(ctx, rctx context.Context, in Input) error {
	access, err := in.Provider.Etcd(ctx)
	if err != nil {
		return err
	}
	if o.etcd, err = access.Client(); err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	list, err := o.etcd.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("etcd member list: %w", err)
	}
	o.members = map[uint64]string{}
	for _, m := range list.Members {
		o.members[m.ID] = m.Name
	}
	o.statusClients = map[string]*cluster.MemberClient{}
	for name, url := range access.Members {
		mc, err := access.MemberClient(url)
		if err != nil {
			return fmt.Errorf("etcd client for member %s: %w", name, err)
		}
		o.statusClients[url] = mc
		o.Rec.Poll(rctx, PrefixEtcd+name, SampleEvery, SampleTimeout, EtcdMemberStatus(mc, o.members))
	}
	if !in.Traffic {
		return nil
	}
	o.prefix = fmt.Sprintf("/hachaos/%s/%d/", in.Spec.Name, time.Now().UnixNano())
	o.traffic, err = probe.StartKVTraffic(rctx, probe.KVTrafficConfig{
		Client: o.etcd, Prefix: o.prefix, Every: KVEvery, Timeout: KVOpTimeout, Clients: 2, Clock: o.Rec.Since,
	})
	if err != nil {
		return fmt.Errorf("start etcd traffic: %w", err)
	}
	return nil
}

// Etcd is the observation's etcd client (every member's endpoint); nil after Close.
func (o *Observation) Etcd() *clientv3.Client { return o.etcd }

// Members maps etcd member IDs to names.
func (o *Observation) Members() map[uint64]string { return o.members }

// StatusClient is the client asking the member at url for its status.
func (o *Observation) StatusClient(url string) *cluster.MemberClient { return o.statusClients[url] }

// TrafficPrefix is the etcd key prefix of the traffic's keys ("" without traffic).
func (o *Observation) TrafficPrefix() string { return o.prefix }

// End stops recording and returns the timeline and the etcd history (empty without
// traffic); a second call returns the same.
func (o *Observation) End() (probe.Timeline, probe.KVHistory) {
	if o.ended {
		return o.timeline, o.history
	}
	o.stop()
	if o.traffic != nil {
		o.history = o.traffic.Stop()
		o.traffic = nil
	}
	if o.api != nil {
		o.apiHistory = o.api.Stop()
	}
	o.timeline = o.Rec.Stop()
	o.ended = true
	return o.timeline, o.history
}

// APIHistory is the API traffic's history once End has run (empty without API traffic).
func (o *Observation) APIHistory() apicheck.History { return o.apiHistory }

// Close releases what End does not: the etcd clients, the traffic's keys and the API
// traffic's objects. Safe twice, and before End.
func (o *Observation) Close(ctx context.Context) error {
	o.stop()
	if o.traffic != nil {
		o.traffic.Stop()
		o.traffic = nil
	}
	var errs []error
	if o.api != nil {
		o.api.Stop()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := o.api.Cleanup(dctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
		o.api = nil
	}
	if o.etcd != nil && o.prefix != "" {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if _, err := o.etcd.Delete(dctx, o.prefix, clientv3.WithPrefix()); err != nil {
			errs = append(errs, fmt.Errorf("delete the etcd traffic's keys under %s: %w", o.prefix, err))
		}
		cancel()
		o.prefix = ""
	}
	if o.etcd != nil {
		o.etcd.Close()
		o.etcd = nil
	}
	for _, mc := range o.statusClients {
		mc.Close()
	}
	o.statusClients = nil
	return errors.Join(errs...)
}
