package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// Cause is why a sample failed. The difference matters to judges: only a refused
// connection proves that nothing listens at an address (a server that has stopped); a
// timeout on a loaded machine proves nothing about the server, and an error status is
// an answer from a server that is up.
type Cause string

// The causes a sample's failure is classified into.
const (
	CauseRefused Cause = "refused" // the connection was refused: nothing listened there
	CauseTimeout Cause = "timeout" // no answer within the sample's timeout
	CauseStatus  Cause = "status"  // the server answered, with an error status
	CauseOther   Cause = "other"   // anything else (a reset, EOF, a state that is not UP)
)

// StatusError is an answer with an error status, from a server that is up.
type StatusError struct {
	Code   int    // the HTTP status code
	Detail string // what the answer said failed (a verbose health endpoint's checks)
}

func (e *StatusError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Detail)
}

// Classify is the cause of a failed check's error (nil: no cause).
func Classify(err error) Cause {
	var status *StatusError
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &status):
		return CauseStatus
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return CauseTimeout
	}
	return CauseOther
}

// FailureCause is why s failed ("" if it did not). Recordings made before samples
// carried their cause (the fixtures under testdata/ and ../shared/recordings) are
// classified from the error text the recorder wrote from the same error values.
func (s Sample) FailureCause() Cause {
	switch {
	case s.OK:
		return ""
	case s.Cause != "":
		return s.Cause
	case strings.HasPrefix(s.Error, "HTTP "):
		return CauseStatus
	case strings.Contains(s.Error, "connection refused"):
		return CauseRefused
	case strings.Contains(s.Error, "context deadline exceeded"), strings.Contains(s.Error, "Client.Timeout"), strings.Contains(s.Error, "i/o timeout"):
		return CauseTimeout
	}
	return CauseOther
}
