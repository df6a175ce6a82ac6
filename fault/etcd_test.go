package fault

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hachaos/hachaos/topology"
)

// Each etcd fault acts on the right thing per etcd mode: a static Pod (commands in the
// control-plane node) for stacked, the member's container (node actions) for external.
func TestEtcdFaultsActPerMode(t *testing.T) {
	tests := []struct {
		name                          string
		build                         func(Topology) (Fault, error)
		injectCommand, recoverCommand string // substring of the command run, "" for none
		injectAction, recoverAction   string // node action, "" for none
	}{
		{"stacked stop", func(tp Topology) (Fault, error) {
			return NewEtcdMemberStop(tp, "cp1", topology.EtcdStacked, time.Second)
		},
			"pkill -STOP -x kubelet && pkill -TERM -f '^etcd( |$)'", "pkill -CONT -x kubelet", "", ""},
		{"external stop", func(tp Topology) (Fault, error) {
			return NewEtcdMemberStop(tp, "etcd1", topology.EtcdExternal, time.Second)
		},
			"", "", "stop etcd1", "start etcd1"},
		{"stacked crash", func(tp Topology) (Fault, error) { return NewEtcdMemberCrash(tp, "cp1", topology.EtcdStacked) },
			"pkill -KILL -f '^etcd( |$)'", "", "", ""},
		{"external crash", func(tp Topology) (Fault, error) { return NewEtcdMemberCrash(tp, "etcd1", topology.EtcdExternal) },
			"", "", "crash etcd1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := &fakeTopology{}
			f, err := tt.build(tp)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Inject(context.Background()); err != nil {
				t.Fatal(err)
			}
			expectDid(t, "inject", tp, tt.injectCommand, tt.injectAction)
			*tp = fakeTopology{}
			for range 2 { // Recover is idempotent
				if err := f.Recover(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			expectDid(t, "recover", tp, tt.recoverCommand, tt.recoverAction)
			rebuilt, err := Rebuild(tp, f.Record())
			if err != nil || !reflect.DeepEqual(rebuilt.Record(), f.Record()) {
				t.Fatalf("Rebuild(%v) = %v, %v", f.Record(), rebuilt, err)
			}
		})
	}
}

func expectDid(t *testing.T, phase string, tp *fakeTopology, command, action string) {
	t.Helper()
	ran := strings.Join(tp.commands, "\n")
	if command == "" && len(tp.commands) > 0 || command != "" && !strings.Contains(ran, command) {
		t.Errorf("%s ran %q, want a command containing %q", phase, ran, command)
	}
	if action == "" && len(tp.actions) > 0 || action != "" && !strings.Contains(strings.Join(tp.actions, ","), action) {
		t.Errorf("%s did node actions %v, want %q", phase, tp.actions, action)
	}
}

func TestFaultConstructorsRejectBadInput(t *testing.T) {
	tp := &fakeTopology{}
	for name, err := range map[string]error{
		"stop without node":   second(NewEtcdMemberStop(tp, "", topology.EtcdStacked, time.Second)),
		"stop with bad mode":  second(NewEtcdMemberStop(tp, "cp1", "inline", time.Second)),
		"crash with bad mode": second(NewEtcdMemberCrash(tp, "cp1", "")),
		"kill of bash":        second(NewProcessKill(tp, "cp1", "bash")),
		"kill without node":   second(NewProcessKill(tp, "", ProcessScheduler)),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestProcessKillKillsByExactNameAndHasNothingToRecover(t *testing.T) {
	tp := &fakeTopology{}
	f, err := NewProcessKill(tp, "cp2", ProcessScheduler)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(tp.commands) != 1 || !strings.Contains(tp.commands[0], "cp2: sh -c pid=$(pgrep -o -f '^kube-scheduler( |$)')") || !strings.Contains(tp.commands[0], "pkill -KILL -f '^kube-scheduler( |$)'") {
		t.Fatalf("commands %v, want one that records the oldest kube-scheduler and kills every one", tp.commands)
	}
}

// A killed process is told from the one the kubelet started in its place by its kernel
// identity (pid, start ticks), whatever the exec latency: the clock comparison read a
// restarted API server as "not killed" when a docker exec took 1.5 s.
func TestProcessKillInEffectByTheKilledProcesssIdentity(t *testing.T) {
	const killScript, lookScript = "&& pkill", `echo "$pid $(cut`
	cases := []struct {
		name, now string
		want      string // "" in effect
	}{
		{"restarted: another pid", "5019 2600 30.00", ""},
		{"restarted: the same pid reused, started later", "4242 2600 30.00", ""},
		{"gone, not restarted yet", "", ""},
		{"the same process still runs", "4242 1000 30.00", "still the process the kill was sent to (pid 4242, started at tick 1000)"},
	}
	for _, c := range cases {
		tp := &fakeTopology{outputs: map[string]string{killScript: "4242 1000\n"}}
		f, err := NewProcessKill(tp, "cp3", ProcessAPIServer)
		if err != nil {
			t.Fatal(err)
		}
		copied := f // the pipeline keeps a copy of the fault for its effect checks
		if err := f.Inject(context.Background()); err != nil {
			t.Fatal(err)
		}
		tp.outputs = map[string]string{lookScript: c.now}
		err = copied.InEffect(context.Background(), time.Now().Add(-time.Hour))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
