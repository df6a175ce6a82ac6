package rolling

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// EventsFileEnv names the environment variable through which `hachaos monitor` tells
// the command it runs where to write its steps (one JSON Step per line). A command of
// the user's may write there too: `echo '{"at":"…","phase":"begin","name":"drain"}'`.
const EventsFileEnv = "HACHAOS_MONITOR_EVENTS"

// Step phases.
const (
	PhaseBegin = "begin"
	PhaseEnd   = "end"
)

// Step is one line of the events file: a step of the monitored command beginning or
// ending, on the wall clock. Error is set when the step failed. Restarted, on an end
// line, names what the step was seen to restart (a process started after the step
// began) that clients through the load balancer cannot be shielded from: the monitor
// grants such a step an allowance derived from the running components
// (RestartedStackedEtcd), and no other step any.
type Step struct {
	At        time.Time `json:"at"`
	Phase     string    `json:"phase"`
	Name      string    `json:"name"`
	Error     string    `json:"error,omitempty"`
	Restarted []string  `json:"restarted,omitempty"`
}

// RestartedStackedEtcd is a stacked etcd member restarted: kubeadm points its node's
// API server at that member only, so that server fails requests until the LB takes it
// out (topology.Bounds.StackedMemberLoss), however gracefully the member stops.
const RestartedStackedEtcd = "stacked etcd member"

// Steps writes steps to the events file named by EventsFileEnv (nowhere without it).
type Steps struct {
	mu   sync.Mutex
	file *os.File
}

// OpenSteps opens the events file for appending; without EventsFileEnv it writes nothing.
func OpenSteps() (*Steps, error) {
	path := os.Getenv(EventsFileEnv)
	if path == "" {
		return &Steps{}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the monitor's events file (%s): %w", EventsFileEnv, err)
	}
	return &Steps{file: f}, nil
}

// Write appends one step.
func (s *Steps) Write(st Step) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = s.file.Write(append(data, '\n'))
	return err
}

// Close closes the events file.
func (s *Steps) Close() error {
	if s.file == nil {
		return nil
	}
	return s.file.Close()
}

// ReadSteps reads an events file; lines that are not a Step are errors naming the line.
func ReadSteps(path string) ([]Step, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var steps []Step
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var st Step
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil || st.Name == "" || (st.Phase != PhaseBegin && st.Phase != PhaseEnd) {
			return steps, fmt.Errorf("%s line %d: want {\"at\": RFC 3339 time, \"phase\": \"begin\"|\"end\", \"name\": …}, got %q", path, n, sc.Text())
		}
		steps = append(steps, st)
	}
	return steps, sc.Err()
}
