package adaptertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// SpecFile finds a provider's official spec by name (see FindSpec). A
// missing spec fails the test; it never skips.
func SpecFile(t testing.TB, name string) string {
	t.Helper()
	p, err := FindSpec(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FindSpec finds a provider's official spec by name: in OAUTHSYNC_SPECS_DIR
// if set, else in this repository's docs/providers/specs (found by walking
// up from the working directory to the directory that holds go.mod).
func FindSpec(name string) (string, error) {
	if dir := os.Getenv("OAUTHSYNC_SPECS_DIR"); dir != "" {
		return filepath.Join(dir, name), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "docs", "providers", "specs", name)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("adaptertest: spec %s: %w", name, err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("adaptertest: spec %s: no go.mod above the working directory; set OAUTHSYNC_SPECS_DIR", name)
		}
		dir = parent
	}
}

// Operation names one operation of an OpenAPI document and tells which
// recorded requests it covers.
type Operation struct {
	// Method and Path are the operation's method and path template in the
	// spec ("PATCH", "/oauth/{id}").
	Method, Path string
	// Matches reports whether a recorded request path is this operation's.
	Matches func(path string) bool
	// Adjust corrects the spec's request-body schema where the provider's
	// server is known to differ (see docs/providers/NOTES.md); nil keeps it.
	Adjust func(*openapi3.Schema) *openapi3.Schema
}

// SpecBodyValidator loads the OpenAPI 3 document at specFile and returns a
// function that validates the JSON body of a write matching op against op's
// request-body schema (nil for requests op does not cover). The spec's own
// examples are not validated: the official specs carry invalid ones.
func SpecBodyValidator(t testing.TB, specFile string, op Operation) func(Request) error {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specFile)
	if err != nil {
		t.Fatalf("adaptertest: load %s: %v", specFile, err)
	}
	if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("adaptertest: %s is not a valid OpenAPI document: %v", specFile, err)
	}
	item := doc.Paths.Find(op.Path)
	if item == nil || item.GetOperation(op.Method) == nil {
		t.Fatalf("adaptertest: %s has no operation %s %s", specFile, op.Method, op.Path)
	}
	rb := item.GetOperation(op.Method).RequestBody
	if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil {
		t.Fatalf("adaptertest: %s %s %s has no JSON request body", specFile, op.Method, op.Path)
	}
	schema := rb.Value.Content.Get("application/json").Schema.Value
	if op.Adjust != nil {
		schema = op.Adjust(schema)
	}
	return func(r Request) error {
		if r.Method != op.Method || !op.Matches(r.Path) {
			return nil
		}
		var body any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return fmt.Errorf("%s %s: body is not JSON: %w", r.Method, r.Path, err)
		}
		if err := schema.VisitJSON(body, openapi3.MultiErrors()); err != nil {
			return fmt.Errorf("%s %s: body %s breaks the official spec: %w", r.Method, r.Path, r.Body, err)
		}
		return nil
	}
}

// CheckWith turns a validator into a Harness.CheckWrite.
func CheckWith(validate func(Request) error) func(*testing.T, Request) {
	return func(t *testing.T, r Request) {
		t.Helper()
		if err := validate(r); err != nil {
			t.Error(err)
		}
	}
}

// MergeAllOf returns one object schema with the properties and required
// fields of every allOf branch of s, closed to other properties if any
// branch is. The Reelevant spec needs it: each of its two request-body
// branches forbids the other's properties, so no non-empty body validates
// against the allOf as written (docs/providers/NOTES.md §1.2, §6).
func MergeAllOf(s *openapi3.Schema) *openapi3.Schema {
	merged := openapi3.NewObjectSchema()
	closed := false
	for _, ref := range s.AllOf {
		b := ref.Value
		for name, p := range b.Properties {
			merged.Properties[name] = p
		}
		merged.Required = append(merged.Required, b.Required...)
		if b.AdditionalProperties.Has != nil && !*b.AdditionalProperties.Has {
			closed = true
		}
	}
	if closed {
		no := false
		merged.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	}
	return merged
}

// Closed returns a copy of s that refuses properties it does not declare.
func Closed(s *openapi3.Schema) *openapi3.Schema {
	c := *s
	no := false
	c.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	return &c
}
