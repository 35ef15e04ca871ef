package messages_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/oauthsync/oauthsync/messages"
)

// compileSchema compiles one of the embedded schemas.
func compileSchema(t testing.TB, name string, doc []byte) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(name, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// schemaValidate validates a JSON document against s.
func schemaValidate(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// devBatch returns the lines of examples/dev-batch.ndjson.
func devBatch(t testing.TB) [][]byte {
	t.Helper()
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(readExample(t, "dev-batch.ndjson")))
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestSchemasEmbedded(t *testing.T) {
	for _, name := range []string{"schema/command.schema.json", "schema/result.schema.json"} {
		b, err := messages.Schemas.ReadFile(name)
		if err != nil || len(b) == 0 {
			t.Errorf("Schemas.ReadFile(%s): %v", name, err)
		}
	}
	if !bytes.Equal(messages.CommandSchema, mustRead(t, messages.Schemas.ReadFile, "schema/command.schema.json")) ||
		!bytes.Equal(messages.ResultSchema, mustRead(t, messages.Schemas.ReadFile, "schema/result.schema.json")) {
		t.Errorf("CommandSchema/ResultSchema differ from Schemas")
	}
}

func mustRead(t testing.TB, read func(string) ([]byte, error), name string) []byte {
	t.Helper()
	b, err := read(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCommandSchema(t *testing.T) {
	s := compileSchema(t, "command.schema.json", messages.CommandSchema)

	valid := map[string][]byte{"command.json": readExample(t, "command.json")}
	for i, line := range devBatch(t) {
		valid[fmt.Sprintf("dev-batch.ndjson line %d", i+1)] = line
	}
	for name, body := range valid {
		if err := schemaValidate(s, body); err != nil {
			t.Errorf("%s: schema refuses it: %v", name, err)
		}
	}

	invalid := map[string][]byte{
		"unknown key":           mutate(t, func(m map[string]any) { m["subject"] = "x" }),
		"unknown changes key":   mutate(t, func(m map[string]any) { changes(m)["secret"] = "x" }),
		"bad id":                mutate(t, func(m map[string]any) { m["id"] = "cmd 1" }),
		"active string":         mutate(t, func(m map[string]any) { changes(m)["active"] = "true" }),
		"active null":           mutate(t, func(m map[string]any) { changes(m)["active"] = nil }),
		"wrong type":            mutate(t, func(m map[string]any) { m["type"] = messages.ResultType }),
		"no change":             mutate(t, func(m map[string]any) { data(m)["changes"] = map[string]any{} }),
		"negative sequence":     withRaw(t, "data", "sequence", "-1"),
		"scopes duplicate":      mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{"a", "a"} }),
		"scope with space":      mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{"a b"} }),
		"authorizeUrl relative": mutate(t, func(m map[string]any) { changes(m)["authorizeUrl"] = "/authorize" }),
		"redirectUri spaces":    mutate(t, func(m map[string]any) { changes(m)["redirectUri"] = "https://a/cb, https://b/cb" }),
		"providerFields key":    mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{"1x": 1} }),
		"time":                  mutate(t, func(m map[string]any) { m["time"] = "yesterday" }),
	}
	for name, body := range invalid {
		if _, err := messages.DecodeCommand(testSubject, body, messages.DecodeOptions{}); err == nil {
			t.Errorf("%s: DecodeCommand accepts it", name)
		}
		if err := schemaValidate(s, body); err == nil {
			t.Errorf("%s: schema accepts it", name)
		}
	}
}

func TestResultSchema(t *testing.T) {
	s := compileSchema(t, "result.schema.json", messages.ResultSchema)
	if err := schemaValidate(s, readExample(t, "result.json")); err != nil {
		t.Errorf("result.json: %v", err)
	}
	for _, ev := range resultEvents() {
		b, err := messages.EncodeResultEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaValidate(s, b); err != nil {
			t.Errorf("%s: schema refuses %s: %v", ev.Data.Status, b, err)
		}
	}
	for name, body := range map[string]string{
		"status":  `{"specversion":"1.0","id":"result-a","source":"/w","type":"oauthsync.client.update.result.v1","time":"2026-11-22T10:00:00Z","datacontenttype":"application/json","data":{"commandId":"a","connection":"c","provider":"p","resource":"r","status":"done","appliedFields":[],"skippedFields":[],"attempts":0,"deliveries":0,"commandStreamSequence":0,"startedAt":"2026-11-22T10:00:00Z","finishedAt":"2026-11-22T10:00:00Z","error":null}}`,
		"code":    `{"specversion":"1.0","id":"result-a","source":"/w","type":"oauthsync.client.update.result.v1","time":"2026-11-22T10:00:00Z","datacontenttype":"application/json","data":{"commandId":"a","connection":"c","provider":"p","resource":"r","status":"rejected","appliedFields":[],"skippedFields":[],"attempts":0,"deliveries":0,"commandStreamSequence":0,"startedAt":"2026-11-22T10:00:00Z","finishedAt":"2026-11-22T10:00:00Z","error":{"code":"boom","message":"m","retryable":false}}}`,
		"unknown": `{"specversion":"1.0","id":"result-a","source":"/w","type":"oauthsync.client.update.result.v1","time":"2026-11-22T10:00:00Z","datacontenttype":"application/json","data":{"commandId":"a","connection":"c","provider":"p","resource":"r","status":"applied","appliedFields":[],"skippedFields":[],"attempts":0,"deliveries":0,"commandStreamSequence":0,"startedAt":"2026-11-22T10:00:00Z","finishedAt":"2026-11-22T10:00:00Z","error":null,"x":1}}`,
		// The longest id with a replay token one digit too long: the schema
		// cannot tell the token from the command id, but the length tells.
		"replay token too long": `{"specversion":"1.0","id":"result-` + strings.Repeat("a", 128) + `-replay-123456789012345678901","source":"/w","type":"oauthsync.client.update.result.v1","time":"2026-11-22T10:00:00Z","datacontenttype":"application/json","data":{"commandId":"` + strings.Repeat("a", 128) + `","connection":"c","provider":"p","resource":"r","status":"applied","appliedFields":[],"skippedFields":[],"attempts":0,"deliveries":0,"commandStreamSequence":0,"startedAt":"2026-11-22T10:00:00Z","finishedAt":"2026-11-22T10:00:00Z","error":null}}`,
	} {
		if _, err := messages.DecodeResultEvent([]byte(body)); err == nil {
			t.Errorf("%s: DecodeResultEvent accepts it", name)
		}
		if err := schemaValidate(s, []byte(body)); err == nil {
			t.Errorf("%s: schema accepts it", name)
		}
	}
}

// TestExamples checks the example files decode and say what they are meant to.
func TestExamples(t *testing.T) {
	cmd := mustDecode(t, testSubject, readExample(t, "command.json"))
	if cmd.Connection != "rc-prod" || strings.Join(cmd.Data.Fields(), ",") != "redirectUri,active" {
		t.Errorf("command.json: %+v", cmd)
	}
	ev, err := messages.DecodeResultEvent(readExample(t, "result.json"))
	if err != nil {
		t.Fatalf("result.json: %v", err)
	}
	if ev.ID != messages.ResultEventID(cmd.ID) || ev.Data.CommandID != cmd.ID || ev.Data.Status != messages.StatusApplied {
		t.Errorf("result.json does not answer command.json: %+v", ev)
	}

	lines := devBatch(t)
	if len(lines) != 12 {
		t.Fatalf("dev-batch.ndjson has %d commands, want 12", len(lines))
	}
	var (
		ids       = map[string]*messages.Command{}
		dup       bool
		secret    bool
		notFound  bool
		lastByRes = map[string]*messages.Command{}
		reordered bool
	)
	for _, line := range lines {
		var probe struct{ Connection, Resource string }
		if err := json.Unmarshal(line, &probe); err != nil {
			t.Fatal(err)
		}
		c := mustDecode(t, messages.Subjects{}.Command(probe.Connection, probe.Resource), line)
		if !slices.Contains([]string{"rc-dev", "reelevant-dev", "hdp-dev", "jf-dev"}, c.Connection) || c.Batch != "dev-sample" || c.Source != "/syncworker-dev" {
			t.Errorf("%s: connection %q batch %q source %q", c.ID, c.Connection, c.Batch, c.Source)
		}
		if prev, ok := ids[c.ID]; ok {
			if hashOf(prev) != hashOf(c) {
				t.Errorf("%s reused with another payload", c.ID)
			}
			dup = true
		}
		ids[c.ID] = c
		secret = secret || c.Data.Changes.ClientSecret != nil
		notFound = notFound || c.Resource == "000000000000000000000000"
		if prev, ok := lastByRes[c.Resource]; ok && prev.Data.Sequence != nil && c.Data.Sequence != nil && *c.Data.Sequence < *prev.Data.Sequence {
			reordered = true
		}
		lastByRes[c.Resource] = c
	}
	if !dup || !secret || !notFound || !reordered {
		t.Errorf("dev batch lacks a case: duplicate %v, clientSecret %v, not-found resource %v, lower sequence later %v", dup, secret, notFound, reordered)
	}
}
