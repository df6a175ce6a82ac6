package topology

import "time"

// CertificationSpec is how much worse an upgrade may make recovery times before
// `make certify` (and `hachaos compare`) fail it. A guarantee broken on the new version
// always fails it.
type CertificationSpec struct {
	// P95Regression: a recovery time's p95 on the new version may exceed the old one's by
	// this fraction. Default 0.5 (50 %): on a shared 2-core machine, run-to-run spread of
	// the same version reached about a third (worker loss 37–41 s, majority restore
	// 25–58 s), so a tighter budget would fail upgrades on noise.
	P95Regression float64 `json:"p95Regression"`
	// P95Slack is added to the allowance, so sub-second times (an LB failure span of
	// 0.3 s) cannot fail a certification by doubling. Default 1s.
	P95Slack Duration `json:"p95Slack"`
}

func defaultCertification() CertificationSpec {
	return CertificationSpec{P95Regression: 0.5, P95Slack: dur(time.Second)}
}

func (c CertificationSpec) validate(v *violations) {
	if c.P95Regression < 0 || c.P95Regression > 10 {
		v.invalid("certification.p95Regression", c.P95Regression, "must be a fraction from 0 to 10 (0.5 = 50 %%)")
	}
	if c.P95Slack.Duration < 0 {
		v.invalid("certification.p95Slack", c.P95Slack, "must not be negative")
	}
	checkAtMost(v, "certification.p95Slack", c.P95Slack)
}
