package reports

import (
	"encoding/json"
	"reflect"

	"github.com/hachaos/hachaos/internal/jsonschema"
	"github.com/hachaos/hachaos/verdict"
)

// ResultsSchemaPath is where results.json's JSON Schema is shipped in the repository,
// beside the Spec's.
const ResultsSchemaPath = "schemas/results.schema.json"

// ResultsJSONSchema is results.json's JSON Schema (draft 2020-12), built from the Go
// types so it cannot drift from what hachaos writes: every field the writer always
// writes is required, unknown fields refused, the schema version and the verdicts
// closed sets. A unit test keeps the shipped file equal to it.
func ResultsJSONSchema() ([]byte, error) {
	verdicts := make([]string, 0, len(verdict.All))
	for _, v := range verdict.All {
		verdicts = append(verdicts, string(v))
	}
	root := jsonschema.Of(reflect.TypeFor[Results](), jsonschema.Options{
		RequireFields: true,
		Enums: map[string][]string{
			"Results.Schema": {ResultsSchema},
			"Trial.Verdict":  verdicts,
		},
	})
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://hachaos.dev/" + ResultsSchemaPath
	root["title"] = "hachaos results.json (" + ResultsSchema + ")"
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
