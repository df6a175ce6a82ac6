// Package exec is hachaos' one way to run a command: every command gets a context and a
// default timeout (kind's own exec package admits commands can hang), and a failure is a
// *RunError that keeps the command line and its output, so it reads like a shell session.
// It must not know about clusters or faults.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	osexec "os/exec"
	"strings"
	"sync/atomic"
	"time"
)

// Trace is told about every command run: its command line, how long it took and its
// error (nil on success). hachaos -v prints these.
type Trace func(command string, took time.Duration, err error)

var trace atomic.Pointer[Trace]

// SetTrace makes t see every command run from now on (nil: none).
func SetTrace(t Trace) {
	if t == nil {
		trace.Store(nil)
		return
	}
	trace.Store(&t)
}

// DefaultTimeout bounds a command whose context carries no earlier deadline.
const DefaultTimeout = 2 * time.Minute

// Cmd is one command to run.
type Cmd struct {
	Name    string
	Args    []string
	Stdin   io.Reader
	Env     []string      // added to the current environment
	Timeout time.Duration // 0 means DefaultTimeout
}

// Command returns a Cmd for name and args.
func Command(name string, args ...string) *Cmd {
	return &Cmd{Name: name, Args: args}
}

// WithTimeout sets the command's timeout and returns it.
func (c *Cmd) WithTimeout(d time.Duration) *Cmd {
	c.Timeout = d
	return c
}

// WithStdin sets the command's standard input and returns it.
func (c *Cmd) WithStdin(r io.Reader) *Cmd {
	c.Stdin = r
	return c
}

// String is the command line as a shell would show it.
func (c *Cmd) String() string {
	parts := append([]string{c.Name}, c.Args...)
	for i, p := range parts {
		if strings.ContainsAny(p, " \t\n'\"$") {
			parts[i] = "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " ")
}

// Output runs the command and returns its standard output. On failure the error is a
// *RunError carrying the command line, stdout and stderr.
func (c *Cmd) Output(ctx context.Context) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := osexec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Stdin = c.Stdin
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	err := cmd.Run()
	defer c.traced(started, err)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		return stdout.Bytes(), &RunError{Command: c.String(), Stdout: stdout.String(), Stderr: stderr.String(), Inner: err}
	}
	return stdout.Bytes(), nil
}

// traced tells the trace, if any, that the command ran.
func (c *Cmd) traced(started time.Time, err error) { Traced(c.String(), started, err) }

// Traced tells the trace, if any, that command ran from started until now and ended in
// err: for commands run another way than by a Cmd (docker exec through Docker's API).
func Traced(command string, started time.Time, err error) {
	if t := trace.Load(); t != nil {
		(*t)(command, time.Since(started), err)
	}
}

// Run runs the command and discards its output unless it fails.
func (c *Cmd) Run(ctx context.Context) error {
	_, err := c.Output(ctx)
	return err
}

// RunError is a failed command with everything needed to understand why.
type RunError struct {
	Command string
	Stdout  string
	Stderr  string
	Inner   error
}

func (e *RunError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command failed: %s: %v", e.Command, e.Inner)
	for _, out := range []struct{ name, text string }{{"stdout", e.Stdout}, {"stderr", e.Stderr}} {
		if t := strings.TrimSpace(out.text); t != "" {
			fmt.Fprintf(&b, "\n%s:\n%s", out.name, tail(t, 40))
		}
	}
	return b.String()
}

// Unwrap returns the underlying error (an *exec.ExitError or a context error).
func (e *RunError) Unwrap() error { return e.Inner }

// ExitCode returns the command's exit code, or -1 when it did not exit normally.
func (e *RunError) ExitCode() int {
	var exit *osexec.ExitError
	if errors.As(e.Inner, &exit) {
		return exit.ExitCode()
	}
	return -1
}

// tail keeps the last n lines: the end of a failing command's output says why.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("[… %d lines]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}
