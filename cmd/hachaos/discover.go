package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/existing"
)

// discoverOptions are discover's flags.
type discoverOptions struct{ config, kubeconfig, kubeContext string }

func newDiscoverCommand() *cobra.Command {
	var o discoverOptions
	c := &cobra.Command{
		Use:     "discover",
		Short:   "the topology as the cluster's API shows it, checked against the Spec's expectations",
		GroupID: "existing",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return discover(o) },
	}
	addConfigFlag(c.Flags(), &o.config, "topology Spec file: what the cluster is expected to be")
	c.Flags().StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster (default $KUBECONFIG)")
	c.Flags().StringVar(&o.kubeContext, "context", "", "context in the kubeconfig (default its current context)")
	return c
}

// discover reads an existing cluster's topology through a kubeconfig (package existing)
// and checks it against the Spec's expectations; it changes nothing in the cluster.
func discover(o discoverOptions) error {
	var problems []string
	if o.kubeconfig == "" {
		problems = append(problems, "--kubeconfig: required (or set KUBECONFIG)")
	}
	spec, err := topology.Load(o.config)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return usageError{strings.Join(problems, "; ")}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: o.kubeContext}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", o.kubeconfig, err)
	}
	cfg.Timeout = 30 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	found, err := existing.Discover(ctx, client, cfg.Host)
	if err != nil {
		return err
	}
	fmt.Print(found)
	if diffs := found.Check(spec); len(diffs) > 0 {
		return checkFailed{fmt.Errorf("the cluster is not what %s expects:\n  - %s", o.config, strings.Join(diffs, "\n  - "))}
	}
	fmt.Printf("the cluster is what %s expects\n", o.config)
	return nil
}
