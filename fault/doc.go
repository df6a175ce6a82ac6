// Package fault breaks a running topology in the ways the HA reference design says it
// must survive, and undoes it. Each fault is a value with Inject and an idempotent Recover
// ("already recovered" is success). Every injection is written to a ledger on disk before
// it happens, so a run that crashed, was killed or was interrupted leaves a record the
// next run recovers before anything else. It must not judge guarantees.
package fault
