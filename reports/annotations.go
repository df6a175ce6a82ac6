package reports

import (
	"fmt"
	"strings"

	"github.com/hachaos/hachaos/verdict"
)

// GitHubAnnotations are GitHub Actions workflow commands, one per spec that did not
// pass: ::error for a broken promise (guarantee broken, did not recover), ::warning for
// one that proved nothing (fault not in effect, environment not ready), each pointing
// at the spec's file and line, titled with its verdict and carrying its first failure.
// A workflow step that prints them gets the annotations on the run's summary and in the
// changed files, with no reporter action.
func GitHubAnnotations(r Results) []string {
	var out []string
	for _, s := range r.Specs {
		v := verdict.Verdict(s.Verdict())
		if !v.Failed() {
			continue
		}
		level := "warning"
		if v.Broken() {
			level = "error"
		}
		props := []string{}
		if s.File != "" {
			props = append(props, "file="+escapeProperty(s.File))
			if s.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", s.Line))
			}
		}
		props = append(props, "title="+escapeProperty(fmt.Sprintf("%s: %s", v, s.Name)))
		out = append(out, fmt.Sprintf("::%s %s::%s", level, strings.Join(props, ","), escapeData(failureSummary(s))))
	}
	return out
}

// failureSummary is the spec's first failure (firstFailure), with how many trials
// failed when there were several.
func failureSummary(s Spec) string {
	if len(s.Trials) < 2 {
		return firstFailure(s)
	}
	failed := 0
	for _, t := range s.Trials {
		if isFailed(t.Verdict) {
			failed++
		}
	}
	return fmt.Sprintf("%d of %d trials: %s", failed, len(s.Trials), firstFailure(s))
}

// escapeData and escapeProperty are the escapes GitHub's workflow command parser
// undoes: a raw newline would end the command, a raw comma the property.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
