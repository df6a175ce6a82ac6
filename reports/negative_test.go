package reports

import (
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(text string, state types.SpecState, message string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, Failure: types.Failure{Message: message}}
}

func TestExpectDetected(t *testing.T) {
	reports := []types.Report{{SpecReports: types.SpecReports{
		spec("etcd: the client port refuses plaintext", types.SpecStateFailed, "etcd member m1 listens for clients in plaintext on http://0.0.0.0:2378"),
		spec("kubelet: serves TLS only", types.SpecStatePassed, ""),
		spec("anonymous requests are refused", types.SpecStateFailed, "could not connect"),
	}}}
	cases := []struct {
		name, spec, reason, wantErr string
	}{
		{"detected with the right reason", "client port", "plaintext on", ""},
		{"passed: not detected", "kubelet", "plaintext", "ended passed"},
		{"failed for another reason", "anonymous", "was not refused", "failed for another reason: could not connect"},
		{"never ran", "scheduler", "x", "no spec matching"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ExpectDetected(reports, c.spec, c.reason)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("got %v, want error containing %q", err, c.wantErr)
			}
		})
	}
}

// A sabotage whose Inject failed ends the suite in its BeforeSuite: the error says so,
// with the message, not only that the spec did not run.
func TestExpectDetectedNamesTheFailedSetup(t *testing.T) {
	setup := types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStateFailed,
		Failure: types.Failure{Message: "manifest flags: exit status 1: no --listen-client-urls"}}
	err := ExpectDetected([]types.Report{{SpecReports: types.SpecReports{setup}}}, "client port", "plaintext")
	if err == nil || !strings.Contains(err.Error(), "BeforeSuite failed: manifest flags: exit status 1") {
		t.Fatalf("got %v, want the BeforeSuite's failure named", err)
	}
}
