package messages_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

func FuzzDecodeCommand(f *testing.F) {
	schema := compileSchema(f, "command.schema.json", messages.CommandSchema)
	f.Add(testSubject, readExample(f, "command.json"))
	for _, line := range devBatch(f) {
		f.Add("sync.commands.rc-dev.65a7d77142a7e12453052d59", line)
	}
	f.Add(testSubject, mutate(f, func(m map[string]any) {
		data(m)["changes"] = map[string]any{
			"name": "App", "description": "d", "clientId": "cid", "clientSecret": "shh",
			"redirectUri": "https://a.example.com/cb,app:/cb", "scopes": []any{"openid", "email"},
			"authorizeUrl": "https://idp.example.com/authorize", "tokenUrl": "https://idp.example.com/token",
			"active": false,
		}
		data(m)["providerFields"] = map[string]any{"configuration": map[string]any{"b": []any{1, 2.5, nil}, "a": "x"}}
	}))
	for _, broken := range []string{
		``, `{`, `[]`, `null`, `{"id":"a"}`, `{"id":"a"} {}`, `{"id":"a","id":"b"}`,
		`{"specversion":"1.0","id":"a","source":"/s","type":"oauthsync.client.update.v1","connection":"rc-prod","resource":"65a7d77142a7e12453052d59","data":{"sequence":1e3,"changes":{"active":true}}}`,
		`{"specversion":"1.0","id":"a","source":"/s","type":"oauthsync.client.update.v1","connection":"rc-prod","resource":"65a7d77142a7e12453052d59","data":{"changes":{"active":null}}}`,
		`{"specversion":"1.0","id":"a","source":"/s","type":"oauthsync.client.update.v1","time":"2026-11-22T10:00:00.5-23:59","connection":"rc-prod","resource":"65a7d77142a7e12453052d59","data":{"providerFields":{"x":{"a":1,"a":1}}}}`,
		"{\"id\":\"a\",\"data\":{\"changes\":{\"name\":\"\xff\"}}}",
	} {
		f.Add(testSubject, []byte(broken))
	}
	// The deep and wide shapes of the cost benchmark, and nesting just
	// at and just past MaxDepth.
	for _, s := range costShapes() {
		f.Add(testSubject, s.body)
	}
	for _, depth := range []int{messages.MaxDepth - 4, messages.MaxDepth - 3} {
		f.Add(testSubject, withProviderFields(`{"x":`+strings.Repeat(`{"a":`, depth)+`[]`+strings.Repeat(`}`, depth)+`}`))
	}
	f.Add(testSubject, withProviderFields(`{"x":"\ud83d\ude00","y":"\ud83d","z":1e400,"w":-0.0}`))
	f.Fuzz(func(t *testing.T, subject string, body []byte) {
		cmd, err := messages.DecodeCommand(subject, body, messages.DecodeOptions{})
		if err != nil {
			var ie *messages.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v, want *InvalidError", err, err)
			}
			if ie.Field == "" || ie.Reason == "" {
				t.Fatalf("empty Field or Reason: %#v", *ie)
			}
			if ie.ID != "" && !messages.ValidCommandID(ie.ID) ||
				ie.Connection != "" && !messages.ValidConnection(ie.Connection) ||
				ie.Resource != "" && !messages.ValidResource(ie.Resource) {
				t.Fatalf("invalid ids in error: %#v", *ie)
			}
			return
		}
		if err := schemaValidate(schema, body); err != nil {
			t.Fatalf("DecodeCommand accepts what the schema refuses: %v\n%s", err, body)
		}
		wire, err := cmd.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		// Encoding may escape what the body held raw (U+2028), so lift the limit.
		again, err := messages.DecodeCommand(subject, wire, messages.DecodeOptions{MaxBytes: 1 << 30})
		if err != nil {
			t.Fatalf("DecodeCommand(Encode()): %v\n%s", err, wire)
		}
		if !equalCommands(cmd, again) {
			t.Fatalf("round trip changed the command:\n got %#v\nwant %#v", again, cmd)
		}
		if hashOf(cmd) != hashOf(again) {
			t.Fatalf("round trip changed the payload hash")
		}
		if err := schemaValidate(schema, wire); err != nil {
			t.Fatalf("schema refuses the encoded command: %v\n%s", err, wire)
		}
	})
}

func FuzzDecodeResultEvent(f *testing.F) {
	schema := compileSchema(f, "result.schema.json", messages.ResultSchema)
	f.Add(readExample(f, "result.json"))
	for _, ev := range resultEvents() {
		b, err := messages.EncodeResultEvent(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, broken := range []string{``, `{`, `null`, `{"data":null}`, `{"specversion":"1.0","id":"result-a","id":"result-a"}`,
		`{"specversion":"1.0","id":"result-a-replay-","source":"/w","type":"oauthsync.client.update.result.v1","time":"2026-11-22T10:00:00Z","datacontenttype":"application/json","data":{"commandId":"a","connection":"c","provider":"p","resource":"r","status":"applied","appliedFields":[],"skippedFields":[],"attempts":0,"deliveries":0,"commandStreamSequence":0,"startedAt":"2026-11-22T10:00:00Z","finishedAt":"2026-11-22T10:00:00Z","error":null}}`,
	} {
		f.Add([]byte(broken))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := messages.DecodeResultEvent(body)
		if err != nil {
			var ie *messages.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v, want *InvalidError", err, err)
			}
			if ie.Field == "" || ie.Reason == "" {
				t.Fatalf("empty Field or Reason: %#v", *ie)
			}
			return
		}
		if err := schemaValidate(schema, body); err != nil {
			t.Fatalf("DecodeResultEvent accepts what the schema refuses: %v\n%s", err, body)
		}
		wire, err := messages.EncodeResultEvent(*ev)
		if err != nil {
			t.Fatalf("EncodeResultEvent: %v", err)
		}
		again, err := messages.DecodeResultEvent(wire)
		if err != nil {
			t.Fatalf("DecodeResultEvent(EncodeResultEvent()): %v\n%s", err, wire)
		}
		if !equalResultEvents(ev, again) {
			t.Fatalf("round trip changed the event:\n got %#v\nwant %#v", *again, *ev)
		}
		if err := schemaValidate(schema, wire); err != nil {
			t.Fatalf("schema refuses the encoded event: %v\n%s", err, wire)
		}
	})
}

// FuzzCommandValues fuzzes the values of a well-formed command, where
// FuzzDecodeCommand mostly explores broken JSON: whatever DecodeCommand
// accepts, the schema must accept, and it must survive a round trip.
func FuzzCommandValues(f *testing.F) {
	schema := compileSchema(f, "command.schema.json", messages.CommandSchema)
	f.Add("App", "https://app.example.com/cb", "https://idp.example.com/authorize", "openid", "2026-11-22T10:00:00Z", "batch-1", "mode", []byte(`{"a":[1,2]}`))
	f.Add(" x ", "app:/cb,https://b.example.com", "HTTP://h:1/p?q#f", "a\u00a0b", "2026-11-22T10:00:00.123456789+23:59", "", "Mode_1", []byte(`null`))
	f.Add("\u2028", "http:cb", "https://[::1]/", "", "0000-01-01T00:00:00Z", "b:c", "", []byte(`"\u0041"`))
	f.Fuzz(func(t *testing.T, name, redirectURI, authorizeURL, scope, tm, batch, pfKey string, pfValue []byte) {
		m := baseline()
		m["time"], m["batch"] = tm, batch
		changes(m)["name"] = name
		changes(m)["redirectUri"] = redirectURI
		changes(m)["authorizeUrl"] = authorizeURL
		changes(m)["scopes"] = []any{scope}
		if pfKey != "" {
			if !json.Valid(pfValue) {
				return // FuzzDecodeCommand explores broken JSON
			}
			data(m)["providerFields"] = map[string]any{pfKey: json.RawMessage(pfValue)}
		}
		body := encode(t, m)
		cmd, err := messages.DecodeCommand(testSubject, body, messages.DecodeOptions{})
		if err != nil {
			var ie *messages.InvalidError
			if !errors.As(err, &ie) || ie.Field == "" || ie.Reason == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			if !ie.Identified() {
				t.Fatalf("valid ids not reported: %#v", *ie)
			}
			return
		}
		if err := schemaValidate(schema, body); err != nil {
			t.Fatalf("DecodeCommand accepts what the schema refuses: %v\n%s", err, body)
		}
		wire, err := cmd.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		again, err := messages.DecodeCommand(testSubject, wire, messages.DecodeOptions{MaxBytes: 1 << 30})
		if err != nil {
			t.Fatalf("DecodeCommand(Encode()): %v\n%s", err, wire)
		}
		if !equalCommands(cmd, again) || hashOf(cmd) != hashOf(again) {
			t.Fatalf("round trip changed the command:\n got %#v\nwant %#v", again, cmd)
		}
	})
}
