// Package probe observes a running topology from the outside without changing it: how an
// endpoint answers a plaintext request, an anonymous TLS client, or a client with a given
// certificate, and what certificates it serves; a Recorder that samples checks on one
// monotonic clock into a Timeline; and etcd traffic whose history is recorded and can be
// checked afterwards (acknowledged writes present, linearizability). Each observation
// keeps what was offered and what answered, so a verdict can show its evidence. It must
// not inject faults, and it does not hold bounds: whether a measured value is good enough
// is decided in suites.
package probe
