// Package probe observes a running topology from the outside without changing it: how an
// endpoint answers a plaintext request, an anonymous TLS client, or a client with a given
// certificate, and what certificates it serves. Each observation is an Attempt that keeps
// what was offered and what answered, so a verdict can show its evidence. It must not
// inject faults or judge guarantees.
package probe
