package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Each cause from the error values a real check returns, not from their text.
func TestClassifyReadsTheErrorValue(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.URL
	closed.Close()
	_, refusedErr := http.Get(addr)

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond) }))
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, slow.URL, nil)
	_, timeoutErr := http.DefaultClient.Do(req)
	clientTimeoutErr := func() error {
		_, err := (&http.Client{Timeout: 10 * time.Millisecond}).Get(slow.URL)
		return err
	}()

	cases := []struct {
		name string
		err  error
		want Cause
	}{
		{"nil", nil, ""},
		{"refused", refusedErr, CauseRefused},
		{"context deadline", timeoutErr, CauseTimeout},
		{"client timeout", clientTimeoutErr, CauseTimeout},
		{"status", &StatusError{Code: 500, Detail: "shutdown"}, CauseStatus},
		{"other", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, CauseOther},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s (%v): %q, want %q", c.name, c.err, got, c.want)
		}
		s := Sample{OK: c.err == nil, Cause: Classify(c.err)}
		if c.err != nil {
			s.Error = c.err.Error()
		}
		legacy := s
		legacy.Cause = ""
		if s.FailureCause() != c.want || legacy.FailureCause() != c.want {
			t.Errorf("%s: FailureCause %q, of a recording without causes %q; want %q", c.name, s.FailureCause(), legacy.FailureCause(), c.want)
		}
	}
}
