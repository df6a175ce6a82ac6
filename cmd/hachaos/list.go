package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/guarantees"
	"github.com/hachaos/hachaos/reports"
)

// catalogue is what hachaos list prints: what the suites can run, creating nothing.
type catalogue struct {
	Specs      []listedSpec                 `json:"specs"`
	Faults     []string                     `json:"faults"`
	Guarantees []guarantees.NegativeControl `json:"guarantees"`
}

// listedSpec is one spec of the suites, as --labels and --focus of hachaos run select it.
type listedSpec struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
}

// listOptions are list's flags.
type listOptions struct{ labels, output, suites string }

func newListCommand() *cobra.Command {
	var o listOptions
	c := &cobra.Command{
		Use:     "list",
		Short:   "the specs a label filter selects (a Ginkgo dry run), the fault kinds, and every guarantee with its negative control (creates nothing)",
		GroupID: "suites",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return listCmd(o) },
	}
	c.Flags().StringVar(&o.labels, "labels", "", "only the specs this Ginkgo label filter selects, e.g. lb or 'etcd && !disruptive'")
	addOutputFlag(c.Flags(), &o.output, "the same catalogue as one object")
	c.Flags().StringVar(&o.suites, "suites", "", "the suites' test binary (default: "+suitesBinaryName+" beside this hachaos; make build writes it)")
	return c
}

// listCmd prints the specs the suites hold (a Ginkgo dry run of the prebuilt test
// binary: nothing runs, no cluster is touched), the fault kinds, and every guarantee
// with its negative control.
func listCmd(lo listOptions) error {
	if err := checkOutput(lo.output); err != nil {
		return err
	}
	o := runOptions{suites: lo.suites}
	if problems := o.findBinaries(); len(problems) > 0 && !isExecutable(o.suites) {
		return usageError{problems[0]}
	}
	specs, err := dryRunSpecs(o.suites, lo.labels)
	if err != nil {
		return err
	}
	c := catalogue{Specs: specs, Faults: fault.Kinds(), Guarantees: guarantees.NegativeControls}
	if lo.output == "json" {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		return e.Encode(c)
	}
	printCatalogue(c)
	return nil
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// dryRunSpecs asks the suites binary which specs the label filter selects: Ginkgo's dry
// run walks the specs without running any of them, BeforeSuite included.
func dryRunSpecs(suites, labels string) ([]listedSpec, error) {
	dir, err := os.MkdirTemp("", "hachaos-list-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "report.json")
	args := []string{"-test.run=^TestE2E$", "-ginkgo.dry-run", "-ginkgo.json-report=" + report}
	if labels != "" {
		args = append(args, "-ginkgo.label-filter="+labels)
	}
	cmd := exec.Command(suites, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("list the suites' specs (%s): %v\n%s", suites, err, out)
	}
	rs, err := reports.ReadGinkgoJSON(report)
	if err != nil {
		return nil, err
	}
	var specs []listedSpec
	for _, r := range rs {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt || s.State == types.SpecStateSkipped {
				continue
			}
			specs = append(specs, listedSpec{Name: s.FullText(), Labels: s.Labels()})
		}
	}
	return specs, nil
}

func printCatalogue(c catalogue) {
	fmt.Printf("Specs (%d; hachaos run --labels/--focus selects them):\n", len(c.Specs))
	for _, s := range c.Specs {
		fmt.Printf("  %s  [%s]\n", s.Name, strings.Join(s.Labels, ", "))
	}
	fmt.Printf("\nFault kinds (%d; hachaos faults lists those injected and not yet recovered):\n  %s\n", len(c.Faults), strings.Join(c.Faults, ", "))
	fmt.Printf("\nGuarantees and their negative controls (%d):\n", len(c.Guarantees))
	for _, g := range c.Guarantees {
		control, runs := g.Control, g.RunsIn
		if control == "" {
			control, runs = "none yet", "—"
		}
		fmt.Printf("  %s\n      control: %s\n      runs in: %s; detected by %q\n", g.Guarantee, control, runs, g.Reason)
	}
}
