package topology

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hjsonschema "github.com/hachaos/hachaos/internal/jsonschema"
	"sigs.k8s.io/yaml"
)

// fieldDocs reads the doc comment of every struct field in this package's source,
// keyed "Type.Field": its first paragraph, on one line.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	docs := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := spec.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, field := range st.Fields.List {
				if field.Doc == nil {
					continue
				}
				text, _, _ := strings.Cut(field.Doc.Text(), "\n\n")
				for _, name := range field.Names {
					docs[spec.Name.Name+"."+name.Name] = strings.Join(strings.Fields(text), " ")
				}
			}
			return true
		})
	}
	return docs
}

// The shipped schema is the one the Go types give; HACHAOS_UPDATE_SCHEMA=1 rewrites it.
func TestShippedSchemaIsTheGoTypes(t *testing.T) {
	want, err := JSONSchema(fieldDocs(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", SchemaID)
	if os.Getenv("HACHAOS_UPDATE_SCHEMA") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the Go types give (%v): regenerate it with HACHAOS_UPDATE_SCHEMA=1 go test ./topology -run TestShippedSchema", path, err)
	}
}

// Every Spec in the repository validates against the schema, and the mistakes Parse
// refuses by type or key are refused by an editor too.
func TestSpecsValidateAgainstTheSchema(t *testing.T) {
	data, err := JSONSchema(nil)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := hjsonschema.Compile("topology.schema.json", data)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, yamlText []byte) error {
		js, err := yaml.YAMLToJSON(yamlText)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var v any
		if err := json.Unmarshal(js, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return schema.Validate(v)
	}
	files, _ := filepath.Glob("../*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(f, data); err != nil {
			t.Errorf("%s does not validate: %v", f, err)
		}
	}
	for _, bad := range []string{"wokers: 2", "workers: two", "etcd: {mode: sidecar}", "waits: {poll: 2}", "kind: Cluster", "loadBalancer: {checkInterval: 1 second}"} {
		if check(bad, []byte(bad)) == nil {
			t.Errorf("the schema accepts %q, which Parse refuses", bad)
		}
	}
}
