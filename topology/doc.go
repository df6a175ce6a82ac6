// Package topology describes the HA cluster under test (Spec, read from YAML) and brings it
// up through a Provider. It must not inject faults or judge guarantees.
//
// A Spec is read with Load or Parse: every key starts at its default (Default), the YAML
// overrides what it names, and Validate reports every broken rule at once, each naming the
// field path as written in YAML. The timing values that guarantees depend on come from a
// profile ("fast" or "upstream", see Profile) with optional per-field overrides
// (Spec.ResolvedTimeouts).
package topology
