// Package jsonschema builds JSON Schemas (draft 2020-12) from Go types by reflection, so
// a shipped schema cannot drift from what the code reads and writes: the Spec's
// (topology) and results.json's (reports). Only what those types use is supported:
// structs with json tags, strings, booleans, numbers, slices, string-keyed maps,
// pointers, time.Time, and types given a schema of their own.
package jsonschema

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"time"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// Options say what reflection cannot: descriptions and closed value sets per field
// (keyed "Type.Field"), schemas for types with their own text form (a duration
// string), and whether fields without omitempty are required.
type Options struct {
	Docs    map[string]string
	Enums   map[string][]string
	Special map[reflect.Type]map[string]any
	// RequireFields lists every field without omitempty as required: true of a
	// document the code always writes whole (results.json), not of one people write
	// with defaults left out (the Spec).
	RequireFields bool
}

// Of is the schema of t; it panics on a type it cannot describe (a programming error,
// caught by the package's tests that generate the shipped schemas).
func Of(t reflect.Type, o Options) map[string]any {
	if s, ok := o.Special[t]; ok {
		return copyMap(s)
	}
	if t == reflect.TypeFor[time.Time]() {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return Of(t.Elem(), o)
	case reflect.Struct:
		return structSchema(t, o)
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": []string{"array", "null"}, "items": Of(t.Elem(), o)}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("jsonschema: map key of %s is not a string", t))
		}
		return map[string]any{"type": "object", "additionalProperties": Of(t.Elem(), o)}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic("jsonschema: no JSON Schema for the type " + t.String())
}

func structSchema(t reflect.Type, o Options) map[string]any {
	props := map[string]any{}
	var required []string
	for f := range t.Fields() {
		name, flags, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		p := Of(f.Type, o)
		key := t.Name() + "." + f.Name
		if d := o.Docs[key]; d != "" {
			p["description"] = d
		}
		if values := o.Enums[key]; values != nil {
			p["enum"] = values
		}
		props[name] = p
		if o.RequireFields && !strings.Contains(flags, "omitempty") {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Compile makes a validator of a generated schema (what the tests check documents with).
func Compile(name string, schema []byte) (*validator.Schema, error) {
	doc, err := validator.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := validator.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		return nil, err
	}
	return c.Compile(name)
}
