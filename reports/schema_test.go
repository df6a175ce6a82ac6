package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	hjsonschema "github.com/hachaos/hachaos/internal/jsonschema"

	"github.com/hachaos/hachaos/topology"
)

func TestShippedResultsSchemaIsTheGoTypes(t *testing.T) {
	want, err := ResultsJSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", ResultsSchemaPath)
	if os.Getenv("HACHAOS_UPDATE_SCHEMA") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the Go types give (%v): regenerate it with HACHAOS_UPDATE_SCHEMA=1 go test ./reports -run TestShippedResultsSchema", path, err)
	}
}

// A results.json as hachaos writes it validates; one with a field it does not write, a
// verdict outside the five, or another schema version does not.
func TestResultsValidateAgainstTheirSchema(t *testing.T) {
	data, err := ResultsJSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	schema, err := hjsonschema.Compile("results.schema.json", data)
	if err != nil {
		t.Fatal(err)
	}
	validate := func(r any) error {
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return schema.Validate(v)
	}
	r := fullResults()
	if err := validate(r); err != nil {
		t.Fatalf("results as written do not validate: %v", err)
	}
	if err := validate(Results{}); err == nil {
		t.Error("results without a schema version validated")
	}
	broken := fullResults()
	broken.Specs[0].Trials[0].Verdict = "flaky"
	if err := validate(broken); err == nil || !strings.Contains(err.Error(), "verdict") {
		t.Errorf("a verdict outside the five validated: %v", err)
	}
	var generic map[string]any
	raw, _ := json.Marshal(fullResults())
	_ = json.Unmarshal(raw, &generic)
	generic["extra"] = 1
	if err := validate(generic); err == nil {
		t.Error("an unknown field validated")
	}
}

func fullResults() Results {
	return Results{
		Schema: ResultsSchema, Started: time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC), Duration: 60,
		WallTime: WallTime{BringUp: 1, Faults: 50, Harness: 9},
		Run: RunInfo{
			Topology: Topology{Name: "hachaos", Provider: "kind", ControlPlanes: 3, Workers: 2, Etcd: "stacked", EtcdMembers: 3, LoadBalancer: "haproxy", NodeImage: "hachaos/node:v1.37.2"},
			Versions: Versions{Kubernetes: "v1.37.2", Etcd: "3.7.0"}, Profile: "fast", Seed: 1, Trials: 1, LabelFilter: "lb",
			Harness: Harness{Version: "devel", Commit: "abc", Modified: true}, SpecSHA256: "7bfe",
			Conditions: RunConditions{Sabotage: "lbSlowRise", DisabledFaults: []string{"all"}},
		},
		Specs: []Spec{{Name: "LB …", Labels: []string{"lb"}, File: "suites/lb.go", Line: 30, Trials: []Trial{{
			Verdict: "guarantee broken", Failure: "f", Location: "suites/harness.go:82", Duration: 40, Timeline: "timelines/x.json",
			Measurements: []Measurement{{Name: "LB failure span", Value: 1, Unit: "s", Bound: 3.25, Formula: "inter + …",
				Inputs: []topology.BoundInput{{Name: "inter", Value: "1s", Source: "Spec"}}}},
			Requests: []SeriesRequests{{Series: "lb", Sent: 10, Failed: 1, Percent: 10}},
			Notes:    []Note{{Name: "n", Value: "v"}},
		}}}},
	}
}
