// Package reports turns suite results into what people read and what later runs compare
// against. It reads Ginkgo's reports; it must not run suites or touch clusters.
package reports
