package suites

import (
	"os"
	"strings"
	"testing"

	"github.com/hachaos/hachaos/guarantees"
)

// The README's table of negative controls is NegativeControls, and every control that a
// make target runs is in the Makefile with its reason.
func TestREADMEListsTheNegativeControlsOfTheCode(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := guarantees.NegativeControlsTable(); !strings.Contains(string(readme), table) {
		t.Fatalf("README.md does not hold the table of negative controls; paste:\n%s", table)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range guarantees.NegativeControls {
		if strings.Contains(c.RunsIn, "make chaos-negative") && !strings.Contains(string(makefile), `"`+c.Reason+`"`) {
			t.Errorf("the Makefile runs no control detected by %q (%s)", c.Reason, c.Guarantee)
		}
	}
	for _, name := range SabotageNames() {
		if !strings.Contains(string(makefile), "negative-running.sh $(CONFIG) "+name+" ") {
			t.Errorf("sabotage %s is not run by make chaos-negative-running", name)
		}
	}
}
