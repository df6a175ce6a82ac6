package reports

import (
	"encoding/xml"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/hachaos/hachaos/verdict"
)

// The JUnit XML written here follows the schema Jenkins' xUnit plugin enforces
// (junit-10.xsd): Ginkgo's own JUnit output carries attributes that schema rejects
// (status, disabled) and puts properties in test cases, where the schema allows none.
// So every spec becomes one <testcase>, its measured values and bounds go into the
// suite's <properties> (named after the spec and the guarantee) and into the case's
// <system-out>, and the failure message attribute is the first line of Gomega's message.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Error     *junitFailure `xml:"error,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes res as JUnit XML to path.
func WriteJUnit(path string, res Results) error {
	data, err := JUnit(res)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// JUnit renders res as JUnit XML: one test case per spec (a fault × guarantee), or with
// several trials one per trial ("… [trial 2 of 3]"), so a flake shows as the one trial
// that failed beside those that passed, as CI reporters count them.
func JUnit(res Results) ([]byte, error) {
	suite := junitSuite{
		Name:       "hachaos " + res.Run.Topology.Name,
		Time:       seconds(res.Duration),
		Timestamp:  res.Started.UTC().Format("2006-01-02T15:04:05"),
		Properties: runProperties(res.Run),
	}
	for _, s := range res.Specs {
		for _, one := range trialCases(s) {
			suite.add(junitCaseOf(one))
		}
		for _, g := range s.Guarantees() {
			suite.Properties = append(suite.Properties, junitProperty{Name: s.Name + " › " + g.Name, Value: guaranteeText(g)})
		}
	}
	doc := junitSuites{Name: "hachaos", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode JUnit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// trialCases is s as the specs its test cases are made of: s itself with one trial (or
// none: skipped), else one spec per trial, named after it.
func trialCases(s Spec) []Spec {
	if len(s.Trials) <= 1 {
		return []Spec{s}
	}
	out := make([]Spec, len(s.Trials))
	for i, t := range s.Trials {
		out[i] = Spec{Name: fmt.Sprintf("%s [trial %d of %d]", s.Name, i+1, len(s.Trials)), Labels: s.Labels, Trials: []Trial{t}}
	}
	return out
}

// add counts c in the suite by its outcome.
func (suite *junitSuite) add(c junitCase) {
	switch {
	case c.Failure != nil:
		suite.Failures++
	case c.Error != nil:
		suite.Errors++
	case c.Skipped != nil:
		suite.Skipped++
	}
	suite.Cases = append(suite.Cases, c)
	suite.Tests++
}

// junitCaseOf is one test case: a broken promise is a failure; a run that proves
// nothing (fault not in effect, environment not ready) is an error of the harness or
// environment.
func junitCaseOf(s Spec) junitCase {
	c := junitCase{Name: s.Name, Classname: "hachaos." + classOf(s), SystemOut: caseOutput(s)}
	var total float64
	for _, t := range s.Trials {
		total += t.Duration
	}
	c.Time = seconds(total)
	switch v := verdict.Verdict(s.Verdict()); {
	case v.Broken():
		c.Failure = caseFailure(s, v)
	case v.Inconclusive():
		c.Error = caseFailure(s, v)
	case v == verdict.Skipped:
		c.Skipped = &junitSkipped{Message: "did not run"}
		if len(s.Trials) > 0 && s.Trials[0].Failure != "" {
			c.Skipped.Message = firstLine(cleanText(s.Trials[0].Failure)) // why it skipped itself
		}
	}
	return c
}

func runProperties(r RunInfo) []junitProperty {
	t := r.Topology
	return []junitProperty{
		{"topology", fmt.Sprintf("%s: %d control planes, %d workers, %s etcd (%d members), %s load balancer", t.Name, t.ControlPlanes, t.Workers, t.Etcd, t.EtcdMembers, t.LoadBalancer)},
		{"kubernetes", r.Versions.Kubernetes},
		{"etcd", r.Versions.Etcd},
		{"profile", r.Profile},
		{"seed", fmt.Sprint(r.Seed)},
		{"trials", fmt.Sprint(r.Trials)},
		{"hachaos", strings.TrimSpace(r.Harness.Version + " " + r.Harness.Commit)},
		{"spec-sha256", r.SpecSHA256},
		{"conditions", r.Conditions.String()},
	}
}

// classOf groups cases by their fault's label (etcd, lb, leader, ...), the first label.
func classOf(s Spec) string {
	if len(s.Labels) == 0 {
		return "suite"
	}
	return s.Labels[0]
}

// guaranteeText is "1.5 s (bound ≤ 4 s = formula)" for one trial, and the worst, p50,
// p95 and max over several.
func guaranteeText(g Guarantee) string {
	bound := g.Bound
	text := fmt.Sprintf("%s %s (bound %s", num(g.Worst()), g.Unit, Measurement{Bound: bound, Unit: g.Unit, AtLeast: g.AtLeast, Unbounded: g.Unbounded}.BoundText())
	if g.Formula != "" {
		text += " = " + g.Formula
	}
	text += ")"
	if g.Stats.N > 1 {
		text += fmt.Sprintf("; %d trials: p50 %s, p95 %s, max %s", g.Stats.N, num(g.Stats.P50), num(g.Stats.P95), num(g.Stats.Max))
	}
	return text
}

func caseOutput(s Spec) string {
	var b strings.Builder
	for i, t := range s.Trials {
		if len(s.Trials) > 1 {
			fmt.Fprintf(&b, "trial %d: %s\n", i+1, t.Verdict)
		}
		for _, m := range t.Measurements {
			fmt.Fprintf(&b, "measured: %s: %s\n", m.Name, m)
		}
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "%s: %s\n", n.Name, n.Value)
		}
		if t.Timeline != "" {
			fmt.Fprintf(&b, "timeline: %s\n", t.Timeline)
		}
	}
	return b.String()
}

func caseFailure(s Spec, v verdict.Verdict) *junitFailure {
	f := &junitFailure{Type: string(v)}
	var text strings.Builder
	for i, t := range s.Trials {
		if !isFailed(t.Verdict) {
			continue
		}
		msg := cleanText(t.Failure)
		if f.Message == "" {
			f.Message = firstLine(msg)
			if len(s.Trials) > 1 {
				f.Message = fmt.Sprintf("trial %d of %d: %s", i+1, len(s.Trials), f.Message)
			}
		}
		fmt.Fprintf(&text, "trial %d: %s: %s\n%s\n\n", i+1, t.Verdict, t.Location, msg)
	}
	f.Text = text.String()
	return f
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// cleanText drops terminal colour codes, which XML cannot carry and people cannot read.
func cleanText(s string) string { return ansi.ReplaceAllString(s, "") }

// seconds formats a duration for the schema's SUREFIRE_TIME: digits, a dot, digits.
func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
