package topology

import (
	"encoding/json"
	"reflect"
	"strings"
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
	root := schemaOf(reflect.TypeFor[Spec](), docs)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://hachaos.dev/" + SchemaID
	root["title"] = "hachaos topology Spec (" + APIVersion + ", kind " + KindTopology + ")"
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// schemaOf is the schema of one Go type of the Spec.
func schemaOf(t reflect.Type, docs map[string]string) map[string]any {
	if t == reflect.TypeFor[Duration]() {
		return map[string]any{"type": "string", "pattern": durationPattern}
	}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			p := schemaOf(f.Type, docs)
			key := t.Name() + "." + f.Name
			if d := docs[key]; d != "" {
				p["description"] = d
			}
			if values := schemaEnums[key]; values != nil {
				p["enum"] = values
			}
			props[name] = p
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic("topology: no JSON Schema for the Spec field type " + t.String())
}
