package apicheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// RunLabel marks every object of one traffic run; its value is Config.RunID.
const RunLabel = "hachaos.dev/api-traffic"

// valueKey is the ConfigMap data key holding the value a client wrote.
const valueKey = "v"

// Config configures Start.
type Config struct {
	// LB is the kubeconfig's REST config: its server is the load balancer. Required.
	LB *rest.Config
	// Namespace holds the objects; created when absent. Required.
	Namespace string
	// RunID names the objects and labels them (RunLabel); unique per run. Required.
	RunID string
	// Every is each client's pace; Timeout bounds one call. Required.
	Every, Timeout time.Duration
	// CatchUp bounds how long Stop waits for every watcher to deliver the last
	// acknowledged write. Required.
	CatchUp time.Duration
	// Objects is how many ConfigMaps the clients contend on (default 3).
	Objects int
	// Clock is the recorder's clock, so the history lines up with the timeline. Required.
	Clock func() time.Duration
}

func (c *Config) validate() error {
	var errs []error
	if c.LB == nil {
		errs = append(errs, errors.New("LB: the load balancer's REST config is required"))
	}
	if c.Namespace == "" || c.RunID == "" {
		errs = append(errs, errors.New("Namespace and RunID are required"))
	}
	if c.Every <= 0 || c.Timeout <= 0 || c.CatchUp <= 0 {
		errs = append(errs, fmt.Errorf("Every (%v), Timeout (%v) and CatchUp (%v) must be positive", c.Every, c.Timeout, c.CatchUp))
	}
	if c.Clock == nil {
		errs = append(errs, errors.New("Clock is required (use Recorder.Since)"))
	}
	if c.Objects < 0 {
		errs = append(errs, fmt.Errorf("Objects must not be negative, got %d", c.Objects))
	}
	if c.Objects == 0 {
		c.Objects = 3
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("api traffic config: %w", err)
	}
	return nil
}

// Connection kinds: how a client reaches the LB.
const (
	ConnectionNew       = "new"        // HTTP/1.1, a new TCP+TLS connection per request
	ConnectionKeptAlive = "kept-alive" // HTTP/2 on one connection, as client-go's default
)

// connections is which connection each client and each watcher uses: one of each.
var connections = []string{ConnectionNew, ConnectionKeptAlive}

// Traffic is the running clients and watchers.
type Traffic struct {
	cfg      Config
	objects  []string
	stopOps  context.CancelFunc
	stopWait context.CancelFunc
	opsDone  sync.WaitGroup
	watchers []*watcher
	mu       sync.Mutex
	ops      []Operation
	history  *History
}

// Start makes the namespace if needed, starts one watcher per connection kind (each
// lists, then watches from the list's resourceVersion) and one client per connection
// kind. The objects are "<RunID>-<i>", labelled RunLabel=<RunID>.
func Start(ctx context.Context, cfg Config) (*Traffic, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ensureNamespace(ctx, cfg); err != nil {
		return nil, err
	}
	t := &Traffic{cfg: cfg}
	for i := range cfg.Objects {
		t.objects = append(t.objects, fmt.Sprintf("%s-%d", cfg.RunID, i))
	}
	wctx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	t.stopWait = stopWatch
	for i, conn := range connections {
		w, err := startWatcher(ctx, wctx, cfg, i, conn)
		if err != nil {
			stopWatch()
			return nil, err
		}
		t.watchers = append(t.watchers, w)
	}
	octx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	t.stopOps = stopOps
	for i, conn := range connections {
		c, err := newClient(cfg, i, conn, t.objects)
		if err != nil {
			stopOps()
			stopWatch()
			return nil, err
		}
		t.opsDone.Add(1)
		go t.run(octx, c)
	}
	return t, nil
}

func ensureNamespace(ctx context.Context, cfg Config) error {
	cs, err := kubernetes.NewForConfig(cfg.LB)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Get(ctx, cfg.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cfg.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "hachaos"}}}
		_, err = cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("api traffic namespace %s: %w", cfg.Namespace, err)
	}
	return nil
}

// restConfig is the LB's config for one connection kind, with no client-side
// throttling; timeout 0 for watches (a client timeout would cut the stream).
func restConfig(lb *rest.Config, conn string, timeout time.Duration) *rest.Config {
	c := rest.CopyConfig(lb)
	c.Timeout = timeout
	c.QPS, c.Burst = -1, 0
	if conn == ConnectionNew {
		c.TLSClientConfig.NextProtos = []string{"http/1.1"}
		c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return closingTransport{rt} }
	}
	return c
}

// closingTransport asks for the connection to be closed after each request, so the
// next one opens a new connection through the LB (and may reach another server).
type closingTransport struct{ next http.RoundTripper }

func (t closingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Close = true
	return t.next.RoundTrip(req)
}

// Stop ends the clients, waits until every watcher has delivered the last acknowledged
// write (at most CatchUp), ends the watchers and returns the history; a second call
// returns the same.
func (t *Traffic) Stop() History {
	if t.history != nil {
		return *t.history
	}
	t.stopOps()
	t.opsDone.Wait()
	t.mu.Lock()
	ops := append([]Operation(nil), t.ops...)
	t.mu.Unlock()
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	last := lastAcknowledgedRevision(ops)
	deadline := time.Now().Add(t.cfg.CatchUp)
	for _, w := range t.watchers {
		w.awaitRevision(last, deadline)
	}
	t.stopWait()
	h := History{WatchCatchUp: t.cfg.CatchUp, Namespace: t.cfg.Namespace, Objects: t.objects, Operations: ops}
	for _, w := range t.watchers {
		h.Watches = append(h.Watches, w.stop())
	}
	t.history = &h
	return h
}

// Cleanup deletes the run's objects.
func (t *Traffic) Cleanup(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(restConfig(t.cfg.LB, ConnectionKeptAlive, t.cfg.Timeout))
	if err != nil {
		return err
	}
	err = cs.CoreV1().ConfigMaps(t.cfg.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: RunLabel + "=" + t.cfg.RunID})
	if err != nil {
		return fmt.Errorf("delete the api traffic's ConfigMaps (%s=%s in %s): %w", RunLabel, t.cfg.RunID, t.cfg.Namespace, err)
	}
	return nil
}

// RemoveLeftovers deletes what earlier runs' traffic left in namespace — a run killed
// before its Cleanup (SIGKILL, a crash) leaves its ConfigMaps — and says how many: every
// object labelled RunLabel. Call it only where no other traffic runs (hachaos runs one
// at a time per topology, under its lock): at the start of a run, and from hachaos up.
func RemoveLeftovers(ctx context.Context, lb *rest.Config, namespace string, timeout time.Duration) (int, error) {
	cs, err := kubernetes.NewForConfig(restConfig(lb, ConnectionKeptAlive, timeout))
	if err != nil {
		return 0, err
	}
	cms := cs.CoreV1().ConfigMaps(namespace)
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: RunLabel})
	if err != nil || len(list.Items) == 0 {
		if apierrors.IsNotFound(err) {
			err = nil
		}
		return 0, err
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: RunLabel}); err != nil {
		return 0, fmt.Errorf("delete the API traffic's leftover ConfigMaps (%s in %s): %w", RunLabel, namespace, err)
	}
	return len(list.Items), nil
}

// lastAcknowledgedRevision is the highest resourceVersion an acknowledged create or
// update returned (0 when there is none or they are not integers).
func lastAcknowledgedRevision(ops []Operation) int64 {
	var last int64
	for _, o := range ops {
		if o.IsWrite() && o.Outcome == Acknowledged && o.Result != nil {
			if r, err := revision(o.Result.ResourceVersion); err == nil {
				last = max(last, r)
			}
		}
	}
	return last
}

// client is one logical client: sequential calls on its own connection kind, and what
// it last knew of each object (its resourceVersion, "" when absent, unknown after an
// answer that proved nothing).
type client struct {
	id      int
	conn    string
	rest    rest.Interface
	objects []string
	known   map[string]knowledge
}

type knowledge struct {
	state string // "absent", "present", "unknown"
	rv    string
}

func newClient(cfg Config, id int, conn string, objects []string) (*client, error) {
	cs, err := kubernetes.NewForConfig(restConfig(cfg.LB, conn, cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("api traffic client %d: %w", id, err)
	}
	return &client{id: id, conn: conn, rest: cs.CoreV1().RESTClient(), objects: objects, known: map[string]knowledge{}}, nil
}

// run paces the client: a ticker that drops ticks while a call is under way, so a
// hung call delays the next by at most Timeout.
func (t *Traffic) run(ctx context.Context, c *client) {
	defer t.opsDone.Done()
	tick := time.NewTicker(t.cfg.Every)
	defer tick.Stop()
	for n := 0; ctx.Err() == nil; n++ {
		op := t.step(ctx, c, n)
		t.mu.Lock()
		t.ops = append(t.ops, op)
		t.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// step is the client's n-th call, a deterministic schedule over the objects (clients
// offset, so they contend on the same object): get, write, list, write, get, and every
// fourth round a delete in place of the last write. A write is a create when the client
// believes the object absent, an update with its last known resourceVersion when
// present, and a get when it does not know.
func (t *Traffic) step(ctx context.Context, c *client, n int) Operation {
	obj := t.objects[(n/6+c.id)%len(t.objects)]
	value := fmt.Sprintf("%d-%d", c.id, n)
	switch n % 6 {
	case 0, 4:
		return t.call(ctx, c, OpGet, obj, "")
	case 2:
		return t.call(ctx, c, OpList, "", "")
	case 5:
		if (n/6)%4 == 3 && c.known[obj].state == "present" {
			return t.call(ctx, c, OpDelete, obj, "")
		}
	}
	switch c.known[obj].state {
	case "present":
		return t.call(ctx, c, OpUpdate, obj, value)
	case "absent":
		return t.call(ctx, c, OpCreate, obj, value)
	}
	return t.call(ctx, c, OpGet, obj, "")
}

// call makes one call, bounded by Timeout but not ended by Stop (its outcome is then
// known rather than "canceled"), and records it.
func (t *Traffic) call(ctx context.Context, c *client, kind OpKind, obj, value string) Operation {
	op := Operation{Client: c.id, Connection: c.conn, Kind: kind, Object: obj, Value: value}
	if kind == OpUpdate || kind == OpDelete {
		op.Precondition = c.known[obj].rv
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.Timeout)
	defer cancel()
	op.Call = t.cfg.Clock()
	err := t.send(cctx, c, &op)
	op.Return = t.cfg.Clock()
	settle(&op, err)
	c.learn(op)
	return op
}

func (t *Traffic) send(ctx context.Context, c *client, op *Operation) error {
	ns := t.cfg.Namespace
	switch op.Kind {
	case OpList:
		var list corev1.ConfigMapList
		err := c.rest.Get().Namespace(ns).Resource("configmaps").MaxRetries(0).
			VersionedParams(&metav1.ListOptions{LabelSelector: RunLabel + "=" + t.cfg.RunID}, scheme.ParameterCodec).
			Do(ctx).Into(&list)
		if err == nil {
			op.ListRV = list.ResourceVersion
			for i := range list.Items {
				op.Items = append(op.Items, itemOf(&list.Items[i]))
			}
		}
		return err
	case OpDelete:
		rv := op.Precondition
		return c.rest.Delete().Namespace(ns).Resource("configmaps").Name(op.Object).MaxRetries(0).
			Body(&metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}}).Do(ctx).Error()
	}
	var out corev1.ConfigMap
	var err error
	switch op.Kind {
	case OpGet:
		err = c.rest.Get().Namespace(ns).Resource("configmaps").Name(op.Object).MaxRetries(0).Do(ctx).Into(&out)
		op.Found = err == nil
	case OpCreate:
		err = c.rest.Post().Namespace(ns).Resource("configmaps").MaxRetries(0).Body(t.object(op, "")).Do(ctx).Into(&out)
	case OpUpdate:
		err = c.rest.Put().Namespace(ns).Resource("configmaps").Name(op.Object).MaxRetries(0).Body(t.object(op, op.Precondition)).Do(ctx).Into(&out)
	}
	if err == nil {
		item := itemOf(&out)
		op.Result = &item
	}
	return err
}

func (t *Traffic) object(op *Operation, rv string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: op.Object, Namespace: t.cfg.Namespace, ResourceVersion: rv, Labels: map[string]string{RunLabel: t.cfg.RunID}},
		Data:       map[string]string{valueKey: op.Value},
	}
}

func itemOf(cm *corev1.ConfigMap) Item {
	return Item{Name: cm.Name, Value: cm.Data[valueKey], ResourceVersion: cm.ResourceVersion}
}

// settle classifies the answer: success, a definite refusal (404, 409), or unknown.
func settle(op *Operation, err error) {
	if err == nil {
		op.Outcome = Acknowledged
		return
	}
	op.Error = err.Error()
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		op.Code = int(status.Status().Code)
	}
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		op.Outcome = Refused
		return
	}
	op.Outcome = Unknown
}

// learn updates what the client knows of the object from the answer.
func (c *client) learn(op Operation) {
	switch {
	case op.Kind == OpList && op.Outcome == Acknowledged:
		present := map[string]string{}
		for _, it := range op.Items {
			present[it.Name] = it.ResourceVersion
		}
		for _, obj := range c.objects {
			if rv, ok := present[obj]; ok {
				c.known[obj] = knowledge{state: "present", rv: rv}
			} else {
				c.known[obj] = knowledge{state: "absent"}
			}
		}
		return
	case op.Kind == OpList:
		return
	case op.Outcome == Acknowledged && op.Kind == OpDelete:
		c.known[op.Object] = knowledge{state: "absent"}
	case op.Outcome == Acknowledged:
		c.known[op.Object] = knowledge{state: "present", rv: op.Result.ResourceVersion}
	case op.Code == http.StatusNotFound:
		c.known[op.Object] = knowledge{state: "absent"}
	default:
		c.known[op.Object] = knowledge{state: "unknown"}
	}
}
