// Package apicheck checks the Kubernetes API as its clients see it through the load
// balancer while the control plane fails over: not whether requests succeed (package
// monitor measures that) but whether the answers are right.
//
// Traffic (Start) is a few clients of the harness's own ConfigMaps — create, get, update
// with a resourceVersion precondition (a compare-and-set), list and delete, on new and on
// kept-alive connections — and watchers that run for the whole recording, resuming a
// broken watch from their last resourceVersion and relisting after 410 Gone as
// client-go's reflector does. Every call, its answer and every watch event is recorded
// on the recorder's clock into a History; a write that failed without a definite answer
// "may have happened".
//
// The checks (Check) are pure functions over a History, each a guarantee of its own:
//
//   - linearizable per object (porcupine, a ConfigMap as a register with versions);
//   - resourceVersions of acknowledged writes increase with real time across API servers;
//   - a get or a list never returns state older than a write acknowledged before it
//     was called (consistent reads);
//   - every watcher sees every acknowledged change of its objects exactly once, in
//     resourceVersion order, with no gap, and no change nobody made.
//
// It is the Kubernetes-API counterpart of probe's etcd history, and shares its rules for
// what an answer proves.
package apicheck
