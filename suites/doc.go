// Package suites holds hachaos' Ginkgo spec functions: what must hold of an HA topology,
// each a function taking an input getter (Cluster API's e2e style), so thin _test.go files
// fill the input and add labels. Verdicts live here; bringing clusters up lives in
// topology, and reports in reports. It must not create topologies itself.
package suites
