// Package topology describes the HA cluster under test (Spec, read from YAML), the nodes
// it is made of, and the bounds its guarantees are judged by (Bounds, from the Spec and
// the components' timings). Bringing it up and reaching into it is topology/cluster's;
// this package imports no cluster client. It must not inject faults or judge guarantees.
//
// A Spec is read with Load or Parse: every key starts at its default (Default), the YAML
// overrides what it names, and Validate reports every broken rule at once, each naming the
// field path as written in YAML. The timing values that guarantees depend on come from a
// profile ("fast" or "upstream", see Profile) with optional per-field overrides
// (Spec.ResolvedTimeouts).
package topology
