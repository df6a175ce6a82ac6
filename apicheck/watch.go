package apicheck

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// retryEvery paces a watcher's attempts while the API gives it no stream (the LB or
// every server down): client-go's reflector backs off too, and a tight loop would cost
// the 2-core machine's API servers more than the fault does.
const retryEvery = 100 * time.Millisecond

// watcher is one watch through the LB that lives for the whole recording, as a
// controller's reflector does: list, watch from the list's resourceVersion, resume from
// the last resourceVersion seen when the server ends the stream, relist after 410 Gone.
type watcher struct {
	cfg      Config
	cs       kubernetes.Interface
	selector string
	done     chan struct{}
	mu       sync.Mutex
	rec      WatchRecord
	position string        // resourceVersion to resume from
	moved    chan struct{} // closed and replaced whenever position advances
}

func startWatcher(ctx, wctx context.Context, cfg Config, id int, conn string) (*watcher, error) {
	cs, err := kubernetes.NewForConfig(restConfig(cfg.LB, conn, 0))
	if err != nil {
		return nil, fmt.Errorf("api traffic watcher %d: %w", id, err)
	}
	w := &watcher{cfg: cfg, cs: cs, selector: RunLabel + "=" + cfg.RunID, done: make(chan struct{}), moved: make(chan struct{}),
		rec: WatchRecord{Watcher: id, Connection: conn}}
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	rv, err := w.list(lctx)
	if err != nil {
		return nil, fmt.Errorf("api traffic watcher %d: first list: %w", id, err)
	}
	w.rec.StartRV, w.position = rv, rv
	go w.loop(wctx)
	return w, nil
}

func (w *watcher) list(ctx context.Context) (string, error) {
	l, err := w.cs.CoreV1().ConfigMaps(w.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.selector})
	if err != nil {
		return "", err
	}
	return l.ResourceVersion, nil
}

func (w *watcher) loop(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		stream, err := w.cs.CoreV1().ConfigMaps(w.cfg.Namespace).Watch(ctx, metav1.ListOptions{
			LabelSelector: w.selector, ResourceVersion: w.at(), AllowWatchBookmarks: true,
		})
		gone := false
		switch {
		case err == nil:
			gone = w.consume(ctx, stream)
			if !gone && ctx.Err() == nil {
				w.count(&w.rec.Resumptions)
			}
		case isGone(err):
			gone = true
		default:
			w.count(&w.rec.FailedWatches)
			pause(ctx, retryEvery)
		}
		if gone {
			w.relist(ctx)
		}
	}
}

// consume reads one stream until it ends; it says whether the server ended it with 410.
func (w *watcher) consume(ctx context.Context, stream watch.Interface) (gone bool) {
	defer stream.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case ev, ok := <-stream.ResultChan():
			if !ok {
				return false
			}
			switch ev.Type {
			case watch.Error:
				return isGone(apierrors.FromObject(ev.Object))
			case watch.Bookmark:
				if m, err := metaOf(ev.Object); err == nil {
					w.advance(m.GetResourceVersion(), nil)
				}
			case watch.Added, watch.Modified, watch.Deleted:
				if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
					e := WatchEvent{At: w.cfg.Clock(), Type: EventType(ev.Type), Item: itemOf(cm)}
					w.advance(cm.ResourceVersion, &e)
				}
			}
		}
	}
}

// relist lists until it gets an answer and resumes from the list's resourceVersion.
func (w *watcher) relist(ctx context.Context) {
	for ctx.Err() == nil {
		lctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		rv, err := w.list(lctx)
		cancel()
		if err == nil {
			w.mu.Lock()
			w.rec.Relists = append(w.rec.Relists, Relist{At: w.cfg.Clock(), From: w.position, ListRV: rv})
			w.mu.Unlock()
			w.advance(rv, nil)
			return
		}
		pause(ctx, retryEvery)
	}
}

func (w *watcher) advance(rv string, e *WatchEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e != nil {
		w.rec.Events = append(w.rec.Events, *e)
	}
	w.position = rv
	close(w.moved)
	w.moved = make(chan struct{})
}

func (w *watcher) at() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.position
}

func (w *watcher) count(n *int) {
	w.mu.Lock()
	*n++
	w.mu.Unlock()
}

// awaitRevision waits until the watcher's position reaches rev (it has delivered every
// change up to it) or the deadline passes.
func (w *watcher) awaitRevision(rev int64, deadline time.Time) {
	for {
		w.mu.Lock()
		at, err := revision(w.position)
		moved := w.moved
		w.mu.Unlock()
		if err != nil || at >= rev {
			return
		}
		select {
		case <-moved:
		case <-time.After(time.Until(deadline)):
			return
		}
	}
}

// stop waits for the loop to end (its context is cancelled first) and returns the record.
func (w *watcher) stop() WatchRecord {
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rec
	r.EndRV = w.position
	r.Events = append([]WatchEvent(nil), w.rec.Events...)
	return r
}

func isGone(err error) bool { return apierrors.IsGone(err) || apierrors.IsResourceExpired(err) }

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}

// pause waits d or until ctx ends: the pace of a retry, not a wait for a condition.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
