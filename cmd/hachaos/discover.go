package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hachaos/hachaos/topology"
	"github.com/hachaos/hachaos/topology/existing"
)

// discover reads an existing cluster's topology through a kubeconfig (package existing)
// and checks it against the Spec's expectations; it changes nothing in the cluster.
func discover(args []string) error {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	config := fs.String("config", "hachaos.yaml", "topology Spec file: what the cluster is expected to be")
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster (default $KUBECONFIG)")
	kubeContext := fs.String("context", "", "context in the kubeconfig (default its current context)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	var problems []string
	if *kubeconfig == "" {
		problems = append(problems, "--kubeconfig: required (or set KUBECONFIG)")
	}
	spec, err := topology.Load(*config)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return usageError{strings.Join(problems, "; ")}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: *kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: *kubeContext}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", *kubeconfig, err)
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
		return checkFailed{fmt.Errorf("the cluster is not what %s expects:\n  - %s", *config, strings.Join(diffs, "\n  - "))}
	}
	fmt.Printf("the cluster is what %s expects\n", *config)
	return nil
}
