package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	kindPut = "put"
	kindGet = "get"
	// registers is how many shared keys the clients contend on: few enough that reads
	// often follow another client's write, which is what linearizability is judged on.
	registers = 3
)

// KVTrafficConfig configures KVTraffic.
type KVTrafficConfig struct {
	// Client is built by the caller with every member's endpoint, so the traffic follows
	// the client's own failover. Required.
	Client *clientv3.Client
	// Prefix holds every key; it must end with "/" and should be unique to the run, e.g.
	// "/hachaos/<spec>/<run>/", so that histories of earlier runs cannot be read back.
	Prefix string
	// Every is the pace of each logical client: one operation per Every. Required.
	Every time.Duration
	// Timeout bounds one operation. A put that times out is "may have happened". Required.
	Timeout time.Duration
	// Clients is the number of concurrent logical clients (default 2).
	Clients int
	// Clock is the recorder's clock (Recorder.Since), so operations line up with the
	// timeline's events. Required.
	Clock func() time.Duration
}

func (c *KVTrafficConfig) validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("Client is nil"))
	}
	if c.Clock == nil {
		errs = append(errs, errors.New("Clock is nil (use Recorder.Since)"))
	}
	if c.Prefix == "" || !strings.HasSuffix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("Prefix %q must be non-empty and end with /", c.Prefix))
	}
	if c.Every <= 0 {
		errs = append(errs, fmt.Errorf("Every must be positive, got %v", c.Every))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("Timeout must be positive, got %v", c.Timeout))
	}
	if c.Clients < 0 {
		errs = append(errs, fmt.Errorf("Clients must not be negative, got %d", c.Clients))
	}
	if c.Clients == 0 {
		c.Clients = 2
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kv traffic config: %w", err)
	}
	return nil
}

// KVOperation is one call and its return, on the recorder's clock.
type KVOperation struct {
	Client int
	Kind   string // "put" | "get"
	Key    string
	Value  string // value written (put), or value read (get)
	Found  bool   // get: the key existed
	Call   time.Duration
	Return time.Duration
	// OK is true when the put was acknowledged or the get answered. A put that is not OK
	// may still have been applied.
	OK       bool
	Error    string `json:",omitempty"`
	Revision int64  // header revision of the response when OK
}

// KVHistory is every operation KVTraffic made, sorted by Call.
type KVHistory struct {
	Operations []KVOperation
}

// KVTraffic drives etcd with puts and gets and records each one; it judges nothing.
type KVTraffic struct {
	cfg    KVTrafficConfig
	kv     clientv3.KV
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	ops    []KVOperation
}

// StartKVTraffic starts cfg.Clients logical clients that run until ctx ends or Stop is
// called. Each client alternates a put of a unique key under Prefix+"w/" (to prove that no
// acknowledged write is lost) with a put or a linearizable get of one of the shared
// registers Prefix+"r/0".."r/2" (to judge linearizability). The schedule is deterministic.
func StartKVTraffic(ctx context.Context, cfg KVTrafficConfig) (*KVTraffic, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return startKVTraffic(ctx, cfg, cfg.Client), nil
}

// startKVTraffic takes the KV apart from the config so tests can drive a fake.
func startKVTraffic(ctx context.Context, cfg KVTrafficConfig, kv clientv3.KV) *KVTraffic {
	ctx, cancel := context.WithCancel(ctx)
	t := &KVTraffic{cfg: cfg, kv: kv, cancel: cancel}
	for c := 0; c < cfg.Clients; c++ {
		t.wg.Add(1)
		go t.run(ctx, c)
	}
	return t
}

// run is one logical client: its operations are sequential, paced by a ticker that drops
// ticks while an operation is under way, so an operation that hangs delays the next by at
// most Timeout.
func (t *KVTraffic) run(ctx context.Context, client int) {
	defer t.wg.Done()
	tick := time.NewTicker(t.cfg.Every)
	defer tick.Stop()
	for n := 0; ctx.Err() == nil; n++ {
		op := t.do(ctx, client, n)
		t.mu.Lock()
		t.ops = append(t.ops, op)
		t.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// do runs the client's n-th operation. Even steps write a unique key; odd steps cycle
// through every (register, put|get) pair, offset per client so clients interleave.
func (t *KVTraffic) do(ctx context.Context, client, n int) KVOperation {
	value := fmt.Sprintf("%d-%d", client, n)
	if n%2 == 0 {
		return t.put(ctx, client, t.cfg.Prefix+"w/"+value, value)
	}
	j := n/2 + client
	key := fmt.Sprintf("%sr/%d", t.cfg.Prefix, j%registers)
	if j%2 == 0 {
		return t.put(ctx, client, key, value)
	}
	return t.get(ctx, client, key)
}

// opContext bounds one operation by Timeout but not by the traffic's end: Stop lets
// operations under way finish, so their outcome is known rather than "canceled".
func (t *KVTraffic) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), t.cfg.Timeout)
}

func (t *KVTraffic) put(ctx context.Context, client int, key, value string) KVOperation {
	op := KVOperation{Client: client, Kind: kindPut, Key: key, Value: value}
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	op.Call = t.cfg.Clock()
	resp, err := t.kv.Put(ctx, key, value)
	op.Return = t.cfg.Clock()
	var h *pb.ResponseHeader
	if err == nil {
		h = resp.Header
	}
	op.settle(h, err)
	return op
}

func (t *KVTraffic) get(ctx context.Context, client int, key string) KVOperation {
	op := KVOperation{Client: client, Kind: kindGet, Key: key}
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	op.Call = t.cfg.Clock()
	resp, err := t.kv.Get(ctx, key)
	op.Return = t.cfg.Clock()
	var h *pb.ResponseHeader
	if err == nil {
		h = resp.Header
		if len(resp.Kvs) > 0 {
			op.Found, op.Value = true, string(resp.Kvs[0].Value)
		}
	}
	op.settle(h, err)
	return op
}

func (o *KVOperation) settle(h *pb.ResponseHeader, err error) {
	if err != nil {
		o.Error = err.Error()
		return
	}
	o.OK, o.Revision = true, h.GetRevision()
}

// Stop ends the traffic and waits for the operations under way (each bounded by
// Timeout). It returns the history sorted by Call; calling it again returns it again.
func (t *KVTraffic) Stop() KVHistory {
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	ops := append([]KVOperation(nil), t.ops...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	return KVHistory{Operations: ops}
}

// Acknowledged returns the puts that succeeded, in history order.
func (h KVHistory) Acknowledged() []KVOperation {
	var acked []KVOperation
	for _, o := range h.Operations {
		if o.Kind == kindPut && o.OK {
			acked = append(acked, o)
		}
	}
	return acked
}

// MaxAckGap is the longest time within [from, to) during which no put was acknowledged:
// the longest of the spans from `from` to the first acknowledgement, between consecutive
// acknowledgements (by Return), and from the last one to `to`. at is where that span
// starts. With no acknowledgement in the window the gap is the whole window.
func (h KVHistory) MaxAckGap(from, to time.Duration) (gap, at time.Duration) {
	var returns []time.Duration
	for _, o := range h.Acknowledged() {
		if o.Return >= from && o.Return < to {
			returns = append(returns, o.Return)
		}
	}
	sort.Slice(returns, func(i, j int) bool { return returns[i] < returns[j] })
	at, prev := from, from
	for _, r := range append(returns, to) {
		if r-prev > gap {
			gap, at = r-prev, prev
		}
		prev = r
	}
	return gap, at
}

// PutsIn counts the puts called in [from, to): acknowledged ones and failed ones (which
// may still have been applied).
func (h KVHistory) PutsIn(from, to time.Duration) (acked, failed int) {
	for _, o := range h.Operations {
		if o.Kind != kindPut || o.Call < from || o.Call >= to {
			continue
		}
		if o.OK {
			acked++
		} else {
			failed++
		}
	}
	return acked, failed
}

// MissingWrites reads back every acknowledged unique-key write (keys under prefix+"w/")
// with one linearizable ranged Get, and returns, sorted, the keys whose value is absent
// or different: acknowledged writes that were lost.
func MissingWrites(ctx context.Context, c *clientv3.Client, prefix string, h KVHistory) ([]string, error) {
	if c == nil {
		return nil, errors.New("missing writes: client is nil")
	}
	return missingWrites(ctx, c, prefix, h)
}

func missingWrites(ctx context.Context, kv clientv3.KV, prefix string, h KVHistory) ([]string, error) {
	want := map[string]string{}
	for _, o := range h.Acknowledged() {
		if strings.HasPrefix(o.Key, prefix+"w/") {
			want[o.Key] = o.Value
		}
	}
	resp, err := kv.Get(ctx, prefix+"w/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read back acknowledged writes under %sw/: %w", prefix, err)
	}
	got := make(map[string]string, len(resp.Kvs))
	for _, e := range resp.Kvs {
		got[string(e.Key)] = string(e.Value)
	}
	var missing []string
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// CheckLinearizable checks the register operations (keys under "<prefix>r/") with
// porcupine against a key-value model partitioned by key. A put that failed or timed out
// may have happened: it gets an open-ended return, so the checker may place it anywhere
// after its call, including after everything (as if it never happened). A failed get
// observed nothing and is dropped. timeout bounds the search (0: none); a result of
// Unknown means it ran out. When the result is not Ok and vizPath is set, porcupine's HTML
// visualization is written there.
func CheckLinearizable(h KVHistory, timeout time.Duration, vizPath string) (porcupine.CheckResult, error) {
	model := registerModel()
	result, info := porcupine.CheckOperationsVerbose(model, registerOperations(h), timeout)
	if result == porcupine.Ok || vizPath == "" {
		return result, nil
	}
	if err := porcupine.VisualizePath(model, info, vizPath); err != nil {
		return result, fmt.Errorf("write linearizability visualization %s: %w", vizPath, err)
	}
	return result, nil
}

// isRegister tells a shared register key ("<prefix>r/<n>") from a unique write
// ("<prefix>w/<client>-<seq>"); Prefix ends with "/", so the segment is always delimited.
func isRegister(key string) bool {
	i := strings.LastIndex(key, "/")
	return i >= 0 && strings.HasSuffix(key[:i+1], "/r/")
}

// registerOperations turns the register part of h into porcupine operations. porcupine
// draws one row per ClientId, so a client starts a new row after a put that never
// returned, whose bar stays open to the end.
func registerOperations(h KVHistory) []porcupine.Operation {
	var ops []porcupine.Operation
	rows, next := map[int]int{}, 0 // logical client -> its current row
	for _, o := range h.Operations {
		if !isRegister(o.Key) || o.Kind == kindGet && !o.OK {
			continue
		}
		row, ok := rows[o.Client]
		if !ok {
			row, next = next, next+1
			rows[o.Client] = row
		}
		ops = append(ops, porcupineOperation(o, row))
		if !o.OK {
			delete(rows, o.Client)
		}
	}
	return ops
}

func porcupineOperation(o KVOperation, row int) porcupine.Operation {
	p := porcupine.Operation{
		ClientId: row,
		Input:    kvInput{Kind: o.Kind, Key: o.Key, Value: o.Value},
		Call:     int64(o.Call),
		Output:   kvOutput{Found: o.Found, Value: o.Value},
		Return:   int64(o.Return),
	}
	if o.Kind == kindGet {
		p.Input = kvInput{Kind: kindGet, Key: o.Key}
	}
	if !o.OK {
		p.Return, p.Output, p.Metadata = math.MaxInt64, kvOutput{Unknown: true}, o.Error
	}
	return p
}

type kvInput struct{ Kind, Key, Value string }

// kvOutput is what an operation returned; Unknown marks a put whose outcome is not known.
type kvOutput struct {
	Found   bool
	Value   string
	Unknown bool
}

// kvState is one register: absent until first written.
type kvState struct {
	Found bool
	Value string
}

// registerModel is a register per key. A put always applies (its output says nothing
// etcd promised), and a get must return the current value or its absence.
func registerModel() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByKey,
		Init:      func() interface{} { return kvState{} },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			s, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
			if in.Kind == kindPut {
				return true, kvState{Found: true, Value: in.Value}
			}
			return out.Found == s.Found && out.Value == s.Value, s
		},
		DescribeOperation: describeKVOperation,
		DescribeState: func(state interface{}) string {
			if s := state.(kvState); s.Found {
				return fmt.Sprintf("%q", s.Value)
			}
			return "absent"
		},
	}
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	return PartitionBy(history, func(op porcupine.Operation) string { return op.Input.(kvInput).Key })
}

// PartitionBy splits a porcupine history by key (one register, one object), sorted by
// key so results and visualizations come out in the same order every time: porcupine
// checks each part on its own, which is what keeps the search small.
func PartitionBy(history []porcupine.Operation, key func(porcupine.Operation) string) [][]porcupine.Operation {
	by := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := key(op)
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], op)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, by[k])
	}
	return parts
}

func describeKVOperation(input, output interface{}) string {
	in, out := input.(kvInput), output.(kvOutput)
	switch {
	case in.Kind == kindPut && out.Unknown:
		return fmt.Sprintf("put(%s, %q) -> unknown", in.Key, in.Value)
	case in.Kind == kindPut:
		return fmt.Sprintf("put(%s, %q) -> ok", in.Key, in.Value)
	case out.Found:
		return fmt.Sprintf("get(%s) -> %q", in.Key, out.Value)
	default:
		return fmt.Sprintf("get(%s) -> absent", in.Key)
	}
}
