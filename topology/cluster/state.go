package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// StateRoot is where providers keep what hachaos knows of each topology on this machine
// (its ledger of faults, kubeconfig, lock), one folder per Spec name:
// $HACHAOS_STATE, or the user's cache folder's hachaos/clusters.
func StateRoot() string {
	if dir := os.Getenv("HACHAOS_STATE"); dir != "" {
		return dir
	}
	home, err := os.UserCacheDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, "hachaos", "clusters")
}

// LockStateDir takes a topology's run lock: one hachaos process at a time may create,
// fault or delete a topology (two runs would delete each other's nodes and recover each
// other's faults). It is an flock on a file in the state folder, so the kernel releases
// it when the process dies, however it dies; the file keeps the holder's PID for the
// error message. Unlock releases it.
func LockStateDir(dir, topologyName string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open run lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("another hachaos run (pid %s) is using topology %q; wait for it or stop it (lock %s)",
			strings.TrimSpace(string(holder)), topologyName, path)
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return func() { f.Close() }, nil // closing the descriptor releases the flock
}
