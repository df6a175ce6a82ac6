package main

import "testing"

// Only a broken promise is shrunk: an interrupted or inconclusive soak proves nothing a
// shorter schedule could reproduce (a soak interrupted at round 25 of 29 once started
// shrinking).
func TestSoakShrinksOnlyABrokenPromise(t *testing.T) {
	for status, want := range map[int]bool{exitOK: false, exitFailed: true, exitHarness: false, exitNotReady: false} {
		if got := worthShrinking(status); got != want {
			t.Errorf("exit status %d: worth shrinking %t, want %t", status, got, want)
		}
	}
}
