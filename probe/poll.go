package probe

import (
	"context"
	"time"
)

// PollUntil calls check every poll until it returns nil, up to timeout (at least once,
// each call bounded by callTimeout); the last error is returned when time runs out or
// ctx ends. It waits on a condition, never for a fixed time.
func PollUntil(ctx context.Context, timeout, poll, callTimeout time.Duration, check func(ctx context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(poll):
		}
	}
}
