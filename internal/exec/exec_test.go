package exec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestOutputReturnsStdout(t *testing.T) {
	out, err := Command("sh", "-c", "echo hello").Output(context.Background())
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestRunErrorKeepsCommandAndOutput(t *testing.T) {
	err := Command("sh", "-c", "echo out; echo err >&2; exit 3").Run(context.Background())
	var runErr *RunError
	if !errors.As(err, &runErr) {
		t.Fatalf("want *RunError, got %T %v", err, err)
	}
	for _, want := range []string{"sh -c 'echo out; echo err >&2; exit 3'", "stdout:\nout", "stderr:\nerr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if runErr.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3", runErr.ExitCode())
	}
}

func TestTimeoutStopsAHangingCommand(t *testing.T) {
	err := Command("sleep", "30").WithTimeout(100 * time.Millisecond).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timed out after 100ms") {
		t.Fatalf("want a timeout error, got %v", err)
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	got := tail("a\nb\nc\nd", 2)
	if got != "[… 2 lines]\nc\nd" {
		t.Fatalf("tail = %q", got)
	}
}

func TestTraceSeesEveryCommandWithItsOutcome(t *testing.T) {
	var seen []string
	SetTrace(func(command string, _ time.Duration, err error) {
		seen = append(seen, fmt.Sprintf("%s → %t", command, err == nil))
	})
	defer SetTrace(nil)
	_ = Command("true").Run(context.Background())
	_ = Command("false").Run(context.Background())
	if want := []string{"true → true", "false → false"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("traced %q, want %q", seen, want)
	}
}
