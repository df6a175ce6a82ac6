package topology

import (
	"encoding/json"
	"reflect"

	"github.com/hachaos/hachaos/internal/jsonschema"
)

// SchemaID is where the Spec's JSON Schema is shipped in the repository; hachaos.yaml's
// first line points editors at it (yaml-language-server).
const SchemaID = "schemas/topology.schema.json"

// durationPattern is what time.ParseDuration takes: "0", or numbers with units.
const durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`

// schemaEnums are the fields whose values are a closed set, keyed "Type.Field".
var schemaEnums = map[string][]string{
	"Spec.APIVersion":       {APIVersion},
	"Spec.Kind":             {KindTopology},
	"Spec.Profile":          {ProfileFast, ProfileUpstream},
	"EtcdSpec.Mode":         {string(EtcdStacked), string(EtcdExternal)},
	"LoadBalancerSpec.Type": {string(LBHAProxy), string(LBKind)},
}

// JSONSchema is the Spec's JSON Schema (draft 2020-12), built from the Go types so it
// cannot drift from what Parse accepts: every key and its type, unknown keys refused,
// durations as Go duration strings, the closed sets as enums. docs gives each field's
// description, keyed "Type.Field" (the types' doc comments: schema_test.go reads them
// from the source and keeps the shipped file equal). The rules across fields (odd
// member counts, lease > renew deadline, …) stay Validate's.
func JSONSchema(docs map[string]string) ([]byte, error) {
	root := jsonschema.Of(reflect.TypeFor[Spec](), jsonschema.Options{
		Docs:    docs,
		Enums:   schemaEnums,
		Special: map[reflect.Type]map[string]any{reflect.TypeFor[Duration](): {"type": "string", "pattern": durationPattern}},
	})
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://hachaos.dev/" + SchemaID
	root["title"] = "hachaos topology Spec (" + APIVersion + ", kind " + KindTopology + ")"
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
