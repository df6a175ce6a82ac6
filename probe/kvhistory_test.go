package probe

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// put and get build hand-made operations; times are in milliseconds.
func put(key, value string, call, ret int, ok bool) KVOperation {
	return KVOperation{Kind: kindPut, Key: key, Value: value, Call: ms(call), Return: ms(ret), OK: ok}
}

func get(key, value string, call, ret int) KVOperation {
	return KVOperation{Kind: kindGet, Key: key, Value: value, Found: value != "", Call: ms(call), Return: ms(ret), OK: true}
}

func history(ops ...KVOperation) KVHistory { return KVHistory{Operations: ops} }

func TestMaxAckGap(t *testing.T) {
	acks := history(
		put("/p/w/a", "1", 0, 100, true),
		put("/p/w/b", "2", 100, 200, true),
		put("/p/w/c", "3", 200, 900, false), // failed: not an acknowledgement
		put("/p/w/d", "4", 300, 700, true),
		get("/p/r/0", "2", 700, 1000), // a get acknowledges nothing
		put("/p/w/e", "5", 700, 800, true),
	)
	cases := []struct {
		name     string
		h        KVHistory
		from, to time.Duration
		gap, at  time.Duration
	}{
		{"middle", acks, 0, ms(900), ms(500), ms(200)},                                // 200 -> 700
		{"start", acks, ms(-1000), ms(900), ms(1100), ms(-1000)},                      // -1000 -> 100
		{"end", acks, 0, ms(2000), ms(1200), ms(800)},                                 // 800 -> 2000
		{"window excludes acks outside it", acks, ms(150), ms(300), ms(100), ms(200)}, // 150 -> 200 -> 300
		{"no acks", history(put("/p/w/a", "1", 0, 50, false)), ms(10), ms(60), ms(50), ms(10)},
		{"empty window", acks, ms(500), ms(500), 0, ms(500)},
	}
	for _, c := range cases {
		gap, at := c.h.MaxAckGap(c.from, c.to)
		if gap != c.gap || at != c.at {
			t.Errorf("%s: MaxAckGap(%v, %v) = %v at %v; want %v at %v", c.name, c.from, c.to, gap, at, c.gap, c.at)
		}
	}
}

func TestPutsInAndAcknowledged(t *testing.T) {
	h := history(
		put("/p/w/a", "1", 0, 10, true),
		put("/p/w/b", "2", 100, 110, false),
		get("/p/r/0", "", 150, 160),
		put("/p/r/0", "3", 200, 210, true),
		put("/p/w/c", "4", 300, 310, false),
	)
	cases := []struct {
		from, to      time.Duration
		acked, failed int
	}{
		{0, ms(1000), 2, 2},
		{ms(100), ms(300), 1, 1}, // [100, 300): b and r/0
		{ms(1), ms(100), 0, 0},   // by Call: a was called at 0
		{ms(300), ms(301), 0, 1},
	}
	for _, c := range cases {
		acked, failed := h.PutsIn(c.from, c.to)
		if acked != c.acked || failed != c.failed {
			t.Errorf("PutsIn(%v, %v) = %d, %d; want %d, %d", c.from, c.to, acked, failed, c.acked, c.failed)
		}
	}
	var keys []string
	for _, o := range h.Acknowledged() {
		keys = append(keys, o.Key)
	}
	if want := []string{"/p/w/a", "/p/r/0"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("Acknowledged keys = %v; want %v", keys, want)
	}
}

func TestCheckLinearizable(t *testing.T) {
	failedGet := KVOperation{Kind: kindGet, Key: "/p/r/0", Value: "garbage", Found: true, Call: ms(1), Return: ms(500), Error: "timeout"}
	cases := []struct {
		name string
		h    KVHistory
		want porcupine.CheckResult
	}{
		{"sequential reads see the last write", history(
			get("/p/r/0", "", 0, 10),
			put("/p/r/0", "a", 20, 30, true),
			get("/p/r/0", "a", 40, 50),
			put("/p/r/1", "b", 40, 50, true),
			get("/p/r/1", "b", 60, 70),
		), porcupine.Ok},
		{"a concurrent read may see either value", history(
			put("/p/r/0", "a", 0, 10, true),
			put("/p/r/0", "b", 20, 60, true),
			get("/p/r/0", "a", 30, 40),
			get("/p/r/0", "b", 50, 70),
		), porcupine.Ok},
		{"stale read after an acknowledged write", history(
			put("/p/r/0", "a", 0, 10, true),
			put("/p/r/0", "b", 20, 30, true),
			get("/p/r/0", "a", 40, 50),
		), porcupine.Illegal},
		{"registers are independent", history(
			put("/p/r/0", "a", 0, 10, true),
			get("/p/r/1", "a", 20, 30),
		), porcupine.Illegal},
		{"a failed put that is read later may have happened", history(
			put("/p/r/0", "a", 0, 10, true),
			put("/p/r/0", "b", 20, 30, false),
			get("/p/r/0", "b", 40, 50),
			get("/p/r/0", "b", 60, 70),
		), porcupine.Ok},
		{"a failed put that is never read may not have happened", history(
			put("/p/r/0", "a", 0, 10, true),
			put("/p/r/0", "b", 20, 30, false),
			get("/p/r/0", "a", 40, 50),
		), porcupine.Ok},
		{"a failed put that was seen cannot be undone", history(
			put("/p/r/0", "a", 0, 10, true),
			put("/p/r/0", "b", 20, 30, false),
			get("/p/r/0", "b", 40, 50),
			get("/p/r/0", "a", 60, 70),
		), porcupine.Illegal},
		{"failed gets are dropped", history(
			put("/p/r/0", "a", 0, 10, true),
			failedGet,
		), porcupine.Ok},
		{"unique writes are not registers", history(
			put("/p/w/0-0", "x", 0, 10, true),
			get("/p/w/0-0", "", 20, 30), // would be illegal if it were judged
		), porcupine.Ok},
	}
	for _, c := range cases {
		got, err := CheckLinearizable(c.h, 10*time.Second, "")
		if err != nil || got != c.want {
			t.Errorf("%s: CheckLinearizable = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestCheckLinearizableWritesVisualizationOnlyWhenNotOk(t *testing.T) {
	dir := t.TempDir()
	illegal := history(put("/p/r/0", "a", 0, 10, true), get("/p/r/0", "", 20, 30))
	legal := history(put("/p/r/0", "a", 0, 10, false), get("/p/r/0", "", 20, 30))
	for name, h := range map[string]KVHistory{"illegal": illegal, "legal": legal} {
		path := filepath.Join(dir, name+".html")
		if _, err := CheckLinearizable(h, time.Second, path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := os.ReadFile(path)
		switch {
		case name == "illegal" && (err != nil || !strings.Contains(string(data), "<html")):
			t.Errorf("illegal history: no visualization at %s (%v)", path, err)
		case name == "legal" && err == nil:
			t.Errorf("legal history: unexpected visualization at %s", path)
		}
	}
}

func TestStartKVTrafficNamesTheInvalidField(t *testing.T) {
	valid := KVTrafficConfig{Client: new(clientv3.Client), Prefix: "/hachaos/t/1/", Every: ms(20), Timeout: ms(500), Clock: NewRecorder().Since}
	cases := []struct {
		field  string
		mutate func(*KVTrafficConfig)
	}{
		{"Client", func(c *KVTrafficConfig) { c.Client = nil }},
		{"Clock", func(c *KVTrafficConfig) { c.Clock = nil }},
		{"Prefix", func(c *KVTrafficConfig) { c.Prefix = "" }},
		{"Prefix", func(c *KVTrafficConfig) { c.Prefix = "/hachaos/t/1" }},
		{"Every", func(c *KVTrafficConfig) { c.Every = 0 }},
		{"Timeout", func(c *KVTrafficConfig) { c.Timeout = -1 }},
		{"Clients", func(c *KVTrafficConfig) { c.Clients = -1 }},
	}
	for _, c := range cases {
		cfg := valid
		c.mutate(&cfg)
		tr, err := StartKVTraffic(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("invalid %s: err = %v; want an error naming %s", c.field, err, c.field)
		}
		if tr != nil {
			t.Errorf("invalid %s: traffic started", c.field)
		}
	}
}

// fakeKV is an in-memory, linearizable KV: each call applies atomically under a lock.
// With hang set, every call blocks until its context ends.
type fakeKV struct {
	clientv3.KV // only Put and Get are implemented
	mu          sync.Mutex
	data        map[string]string
	rev         int64
	hang        bool
}

func newFakeKV() *fakeKV { return &fakeKV{data: map[string]string{}} }

func (f *fakeKV) Put(ctx context.Context, key, val string, _ ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	f.data[key] = val
	return &clientv3.PutResponse{Header: &pb.ResponseHeader{Revision: f.rev}}, nil
}

func (f *fakeKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	end := string(clientv3.OpGet(key, opts...).RangeBytes())
	resp := &clientv3.GetResponse{Header: &pb.ResponseHeader{Revision: f.rev}}
	for k, v := range f.data {
		if k == key || end != "" && k >= key && k < end {
			resp.Kvs = append(resp.Kvs, &mvccpb.KeyValue{Key: []byte(k), Value: []byte(v)})
		}
	}
	return resp, nil
}

func TestKVTrafficRecordsAJudgeableHistory(t *testing.T) {
	const prefix = "/hachaos/t/1/"
	kv := newFakeKV()
	cfg := KVTrafficConfig{Client: new(clientv3.Client), Prefix: prefix, Every: ms(2), Timeout: ms(100), Clients: 3, Clock: NewRecorder().Since}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	tr := startKVTraffic(context.Background(), cfg, kv)
	time.Sleep(ms(100)) // let traffic run; not a wait for a condition
	h := tr.Stop()

	kinds, unique := map[string]int{}, map[string]bool{}
	for i, o := range h.Operations {
		kinds[o.Kind]++
		if !o.OK || o.Return < o.Call || i > 0 && o.Call < h.Operations[i-1].Call {
			t.Fatalf("operation %d: %+v (not OK, or out of order)", i, o)
		}
		if strings.HasPrefix(o.Key, prefix+"w/") {
			if unique[o.Key] {
				t.Fatalf("unique key %s written twice", o.Key)
			}
			unique[o.Key] = true
		} else if !isRegister(o.Key) || !strings.HasPrefix(o.Key, prefix+"r/") {
			t.Fatalf("key %s is neither a unique write nor a register", o.Key)
		}
	}
	if kinds[kindPut] < 6 || kinds[kindGet] < 3 {
		t.Fatalf("too little traffic: %v", kinds)
	}
	if res, err := CheckLinearizable(h, 10*time.Second, ""); res != porcupine.Ok || err != nil {
		t.Fatalf("CheckLinearizable on a linearizable store = %v, %v", res, err)
	}
	if missing, err := missingWrites(context.Background(), kv, prefix, h); len(missing) != 0 || err != nil {
		t.Fatalf("missingWrites = %v, %v; want none", missing, err)
	}

	var written []string
	for _, o := range h.Acknowledged() {
		if unique[o.Key] {
			written = append(written, o.Key)
		}
	}
	lost, changed := written[0], written[len(written)-1]
	delete(kv.data, lost)
	kv.data[changed] = "not what was written"
	missing, err := missingWrites(context.Background(), kv, prefix, h)
	want := []string{lost, changed}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if err != nil || !reflect.DeepEqual(missing, want) {
		t.Fatalf("missingWrites after losing %s and changing %s = %v, %v", lost, changed, missing, err)
	}
}

func TestKVTrafficStopIsBoundedByTimeoutWhenEtcdHangs(t *testing.T) {
	const timeout = 50 * time.Millisecond
	kv := newFakeKV()
	kv.hang = true
	cfg := KVTrafficConfig{Client: new(clientv3.Client), Prefix: "/p/", Every: ms(5), Timeout: timeout, Clients: 2, Clock: NewRecorder().Since}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	tr := startKVTraffic(context.Background(), cfg, kv)
	time.Sleep(ms(120)) // about two timeouts per client; not a wait for a condition
	stopped := time.Now()
	h := tr.Stop()
	if waited := time.Since(stopped); waited > timeout+ms(50) {
		t.Errorf("Stop waited %v; want at most Timeout %v (+ slack)", waited, timeout)
	}
	if len(h.Operations) < 4 {
		t.Fatalf("got %d operations; each client should have kept going after timeouts", len(h.Operations))
	}
	for _, o := range h.Operations {
		if o.OK || !strings.Contains(o.Error, context.DeadlineExceeded.Error()) || o.Return-o.Call < timeout {
			t.Errorf("hung operation recorded as %+v; want failed after Timeout", o)
		}
	}
	if acked, failed := h.PutsIn(0, time.Hour); acked != 0 || failed == 0 {
		t.Errorf("PutsIn = %d acked, %d failed; want only failures", acked, failed)
	}
}

func TestMissingWritesRejectsANilClient(t *testing.T) {
	if _, err := MissingWrites(context.Background(), nil, "/p/", KVHistory{}); err == nil {
		t.Fatal("no error for a nil client")
	}
}

// storeKV is a store's contents as MissingWrites reads them back.
type storeKV struct {
	clientv3.KV
	kvs map[string]string
}

func (s storeKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	resp := &clientv3.GetResponse{}
	for k, v := range s.kvs {
		if strings.HasPrefix(k, key) {
			resp.Kvs = append(resp.Kvs, &mvccpb.KeyValue{Key: []byte(k), Value: []byte(v)})
		}
	}
	return resp, nil
}

// The read-back guarantee ("no acknowledged write lost") and its checker controls: a
// store that lost an acknowledged write, or kept an older value of it, is named; a write
// that was not acknowledged may be missing; the shared read/write keys (r/) are the
// linearizability check's, not this one's.
func TestMissingWritesControls(t *testing.T) {
	h := history(
		put("/p/w/a", "1", 0, 10, true),
		put("/p/w/b", "2", 20, 30, true),
		put("/p/w/c", "3", 40, 2040, false), // may have happened
		put("/p/r/0", "4", 50, 60, true),
	)
	cases := []struct {
		name  string
		store map[string]string
		want  []string
	}{
		{"every acknowledged write read back", map[string]string{"/p/w/a": "1", "/p/w/b": "2"}, nil},
		{"control: the store lost an acknowledged write", map[string]string{"/p/w/a": "1"}, []string{"/p/w/b"}},
		{"control: the store holds an older value", map[string]string{"/p/w/a": "0", "/p/w/b": "2"}, []string{"/p/w/a"}},
	}
	for _, c := range cases {
		got, err := missingWrites(context.Background(), storeKV{kvs: c.store}, "/p/", h)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: missing %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
