package apicheck

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

// OpKind is what a client asked the API for.
type OpKind string

// The operations of the traffic.
const (
	OpCreate OpKind = "create"
	OpGet    OpKind = "get"
	OpUpdate OpKind = "update" // PUT with metadata.resourceVersion: a compare-and-set
	OpList   OpKind = "list"
	OpDelete OpKind = "delete" // with a resourceVersion precondition
)

// Outcome is what an answer proves about a call.
type Outcome string

const (
	// Acknowledged: the API answered success.
	Acknowledged Outcome = "acknowledged"
	// Refused: a definite "no" that changed nothing — 404 Not Found, 409 Conflict
	// (AlreadyExists or a failed precondition).
	Refused Outcome = "refused"
	// Unknown: no definite answer (a timeout, a connection reset, a 5xx): a write may
	// have happened, a read observed nothing.
	Unknown Outcome = "unknown"
)

// Item is one object as an answer showed it.
type Item struct {
	Name            string `json:"name"`
	Value           string `json:"value"`
	ResourceVersion string `json:"resourceVersion"`
}

// Operation is one call and its answer on the recorder's clock.
type Operation struct {
	Client int `json:"client"`
	// Connection is "new" (a new TCP+TLS connection per request) or "kept-alive".
	Connection string `json:"connection"`
	Kind       OpKind `json:"kind"`
	Object     string `json:"object,omitempty"` // empty for list
	Value      string `json:"value,omitempty"`  // written (create, update)
	// Precondition is the resourceVersion an update or delete required.
	Precondition string        `json:"precondition,omitempty"`
	Call         time.Duration `json:"call"`
	Return       time.Duration `json:"return"`
	Outcome      Outcome       `json:"outcome"`
	Code         int           `json:"code,omitempty"` // HTTP status of a refusal or an error
	Error        string        `json:"error,omitempty"`
	// Found is a get's answer: the object existed (Result holds it).
	Found  bool   `json:"found,omitempty"`
	Result *Item  `json:"result,omitempty"` // the object an acknowledged create, update or get returned
	Items  []Item `json:"items,omitempty"`  // an acknowledged list's objects
	// ListRV is an acknowledged list's resourceVersion.
	ListRV string `json:"listRV,omitempty"`
}

// IsWrite says whether the operation asks for a change.
func (o Operation) IsWrite() bool {
	return o.Kind == OpCreate || o.Kind == OpUpdate || o.Kind == OpDelete
}

// String names the operation for a violation's excerpt.
func (o Operation) String() string {
	s := fmt.Sprintf("client %d (%s) %s", o.Client, o.Connection, o.Kind)
	if o.Object != "" {
		s += " " + o.Object
	}
	if o.Value != "" {
		s += fmt.Sprintf(" value=%q", o.Value)
	}
	if o.Precondition != "" {
		s += " if rv=" + o.Precondition
	}
	s += fmt.Sprintf(" [%.3f s → %.3f s] %s", o.Call.Seconds(), o.Return.Seconds(), o.Outcome)
	switch {
	case o.Result != nil:
		s += fmt.Sprintf(" → %q rv=%s", o.Result.Value, o.Result.ResourceVersion)
	case o.Kind == OpList && o.Outcome == Acknowledged:
		s += fmt.Sprintf(" → %d items rv=%s", len(o.Items), o.ListRV)
	case o.Code != 0:
		s += fmt.Sprintf(" (HTTP %d)", o.Code)
	}
	return s
}

// EventType is a watch event's type.
type EventType string

// The watch event types the checks read (bookmarks only advance a watcher's position).
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// WatchEvent is one change a watcher received.
type WatchEvent struct {
	At   time.Duration `json:"at"`
	Type EventType     `json:"type"`
	Item Item          `json:"item"`
}

// Relist is a watcher's list after its watch was answered 410 Gone: the changes between
// its last position and the list's resourceVersion were not delivered as events.
type Relist struct {
	At     time.Duration `json:"at"`
	From   string        `json:"from"` // the watcher's position before
	ListRV string        `json:"listRV"`
}

// WatchRecord is one watcher's whole life.
type WatchRecord struct {
	Watcher    int    `json:"watcher"`
	Connection string `json:"connection"`
	// StartRV is the resourceVersion of the watcher's first list; EndRV its position
	// when the recording ended (the last event's or bookmark's resourceVersion).
	StartRV string       `json:"startRV"`
	EndRV   string       `json:"endRV"`
	Events  []WatchEvent `json:"events"`
	// Resumptions counts watches re-opened from the last resourceVersion after the
	// server ended one (a failover closes it); Relists the lists after 410 Gone.
	Resumptions int      `json:"resumptions"`
	Relists     []Relist `json:"relists,omitempty"`
	// FailedWatches counts watch requests that got no stream (the LB or the server down).
	FailedWatches int `json:"failedWatches"`
}

// History is what the traffic saw.
type History struct {
	// WatchCatchUp is how long the end of the recording waited, at most, for every
	// watcher to deliver the last acknowledged write (Config.CatchUp).
	WatchCatchUp time.Duration `json:"watchCatchUp"`
	Namespace    string        `json:"namespace"`
	Objects      []string      `json:"objects"`
	Operations   []Operation   `json:"operations"` // sorted by Call
	Watches      []WatchRecord `json:"watches"`
}

// Save writes the history as indented JSON.
func (h History) Save(path string) error {
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// Load reads a history Save wrote.
func Load(path string) (History, error) {
	var h History
	data, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// revision reads a resourceVersion as the etcd revision it is on an etcd-backed API
// server: the checks that compare versions need integers, and say so when they are not.
func revision(rv string) (int64, error) {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("resourceVersion %q is not a positive integer", rv)
	}
	return n, nil
}
