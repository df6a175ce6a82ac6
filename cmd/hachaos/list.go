package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/hachaos/hachaos/fault"
	"github.com/hachaos/hachaos/guarantees"
	"github.com/hachaos/hachaos/reports"
	"github.com/hachaos/hachaos/topology"
)

// catalogue is what hachaos list prints: what the suites can run, creating nothing.
type catalogue struct {
	Specs      []listedSpec                 `json:"specs"`
	Faults     []listedFault                `json:"faults"`
	Guarantees []guarantees.NegativeControl `json:"guarantees"`
}

// listedSpec is one spec of the suites, as --labels and --focus of hachaos run select it.
type listedSpec struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
}

// listedFault is a fault kind and what it needs of a provider beyond the Kubernetes API,
// with stacked and with external etcd (they differ for an etcd member's faults).
type listedFault struct {
	Kind          string                `json:"kind"`
	NeedsStacked  []topology.Capability `json:"needsStacked"`
	NeedsExternal []topology.Capability `json:"needsExternal"`
	// Otherwise is how the fault is made on a provider that lacks those needs, if it can be.
	Otherwise string `json:"otherwise,omitempty"`
}

// listedFaults are every registered fault kind with its needs.
func listedFaults() ([]listedFault, error) {
	var out []listedFault
	for _, kind := range fault.Kinds() {
		stacked, err := fault.NeedsOf(kind, topology.EtcdStacked)
		if err != nil {
			return nil, err
		}
		external, err := fault.NeedsOf(kind, topology.EtcdExternal)
		if err != nil {
			return nil, err
		}
		f := listedFault{Kind: kind, NeedsStacked: stacked, NeedsExternal: external}
		if kind == fault.KindWorkerLoss {
			f.Otherwise = fmt.Sprintf("without them: mode %s, which needs %s", fault.WorkerLossCutOff, topology.CapabilityNodeCommands)
		}
		out = append(out, f)
	}
	return out, nil
}

func (f listedFault) String() string {
	needs := func(c []topology.Capability) string {
		if len(c) == 0 {
			return "the Kubernetes API only"
		}
		return fmt.Sprint(c)
	}
	s := fmt.Sprintf("%s: %s stacked, %s external", f.Kind, needs(f.NeedsStacked), needs(f.NeedsExternal))
	if slices.Equal(f.NeedsStacked, f.NeedsExternal) {
		s = fmt.Sprintf("%s: %s", f.Kind, needs(f.NeedsStacked))
	}
	if f.Otherwise != "" {
		s += "; " + f.Otherwise
	}
	return s
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
	specs, err := dryRunSpecs(o.suites, lo.labels, "")
	if err != nil {
		return err
	}
	faults, err := listedFaults()
	if err != nil {
		return err
	}
	c := catalogue{Specs: specs, Faults: faults, Guarantees: guarantees.NegativeControls}
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
func dryRunSpecs(suites, labels, focus string) ([]listedSpec, error) {
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
	if focus != "" {
		args = append(args, "-ginkgo.focus="+focus)
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
	fmt.Printf("\nFault kinds (%d) and what each needs of a provider beyond the Kubernetes API (a spec whose fault\nneeds what the provider lacks is skipped with the reason; hachaos faults lists those injected and not yet recovered):\n", len(c.Faults))
	for _, f := range c.Faults {
		fmt.Printf("  %s\n", f)
	}
	fmt.Printf("\nGuarantees and their negative controls (%d):\n", len(c.Guarantees))
	for _, g := range c.Guarantees {
		control, runs := g.Control, g.RunsIn
		if control == "" {
			control, runs = "none yet", "—"
		}
		fmt.Printf("  %s\n      control: %s\n      runs in: %s; detected by %q\n", g.Guarantee, control, runs, g.Reason)
	}
}
