package messages_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

// equalCommands compares commands, times by instant.
func equalCommands(a, b *messages.Command) bool {
	if (a.Time == nil) != (b.Time == nil) || (a.Time != nil && !a.Time.Equal(*b.Time)) {
		return false
	}
	ac, bc := *a, *b
	ac.Time, bc.Time = nil, nil
	return reflect.DeepEqual(ac, bc)
}

// equalResultEvents compares result events, times by instant.
func equalResultEvents(a, b *messages.ResultEvent) bool {
	if !a.Time.Equal(b.Time) || !a.Data.StartedAt.Equal(b.Data.StartedAt) || !a.Data.FinishedAt.Equal(b.Data.FinishedAt) {
		return false
	}
	ac, bc := *a, *b
	ac.Time, bc.Time = time.Time{}, time.Time{}
	ac.Data.StartedAt, bc.Data.StartedAt = time.Time{}, time.Time{}
	ac.Data.FinishedAt, bc.Data.FinishedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(ac, bc)
}

func ptr[T any](v T) *T { return &v }

func TestCommandRoundTrip(t *testing.T) {
	secret := messages.Secret("s3cret <&>")
	tm := time.Date(2026, 11, 22, 10, 0, 0, 500, time.FixedZone("", 3600))
	cmds := []*messages.Command{
		messages.NewCommand("cmd-1", "/billing-service", "rc-prod", "65a7d77142a7e12453052d59", messages.Data{
			Changes: messages.Changes{RedirectURI: ptr("https://app.example.com/cb?a=1&b=<2>"), Active: ptr(true)},
		}),
		messages.NewCommand("cmd-2", "/s", "reelevant-prod", "65a7d77142a7e12453052d59", messages.Data{
			Sequence: ptr(int64(0)),
			Changes: messages.Changes{
				Name: ptr("n"), Description: ptr(""), ClientID: ptr("id"), ClientSecret: &secret,
				Scopes: ptr([]string{"a", "b"}), AuthorizeURL: ptr("https://a.example.com/x"), TokenURL: ptr("https://a.example.com/y"),
			},
			ProviderFields: map[string]json.RawMessage{"mode": json.RawMessage(`"x<y>"`), "configuration": json.RawMessage(`{"z":1,"a":[true,null]}`)},
		}),
	}
	cmds[1].Time = &tm
	cmds[1].Batch = "b-1"
	for _, c := range cmds {
		body, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := messages.DecodeCommand(messages.Subjects{}.Command(c.Connection, c.Resource), body, messages.DecodeOptions{})
		if err != nil {
			t.Fatalf("DecodeCommand(Encode()): %v\n%s", err, body)
		}
		if !equalCommands(c, got) {
			t.Errorf("round trip changed the command:\n got %#v\nwant %#v", got, c)
		}
		if hashOf(got) != hashOf(c) {
			t.Errorf("round trip changed the payload hash")
		}
	}
}

func TestNewCommand(t *testing.T) {
	c := messages.NewCommand("id", "/src", "conn", "res", messages.Data{})
	if c.SpecVersion != "1.0" || c.Type != messages.CommandType || c.DataContentType != "application/json" ||
		c.ID != "id" || c.Source != "/src" || c.Connection != "conn" || c.Resource != "res" {
		t.Errorf("NewCommand = %+v", c)
	}
}

func sampleResult() messages.Result {
	return messages.Result{
		CommandID: "cmd-2026-11-22-000123", Connection: "rc-prod", Provider: "rocketchat", Resource: "65a7d77142a7e12453052d59",
		Batch: "migration-42", Status: messages.StatusApplied,
		AppliedFields: []string{"redirectUri", "active"},
		Attempts:      1, Deliveries: 1, CommandStreamSequence: 1234,
		StartedAt:  time.Date(2026, 11, 22, 10, 0, 0, 10e6, time.UTC),
		FinishedAt: time.Date(2026, 11, 22, 10, 0, 0, 52e6, time.UTC),
	}
}

func TestResultEventIDs(t *testing.T) {
	if got := messages.ResultEventID("cmd-1"); got != "result-cmd-1" {
		t.Errorf("ResultEventID = %q", got)
	}
	h := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if got := messages.ConflictEventID("cmd-1", h); got != "result-cmd-1-conflict-0123456789abcdef" {
		t.Errorf("ConflictEventID = %q", got)
	}
	if got := messages.ReplayResultEventID("cmd-1", "42"); got != "result-cmd-1-replay-42" {
		t.Errorf("ReplayResultEventID = %q", got)
	}
}

func TestNewResultEvent(t *testing.T) {
	r := sampleResult()
	ev := messages.NewResultEvent("/syncworker/w1", r)
	if ev.SpecVersion != "1.0" || ev.Type != messages.ResultType || ev.ID != "result-cmd-2026-11-22-000123" ||
		!ev.Time.Equal(r.FinishedAt) || ev.DataContentType != "application/json" || ev.Subject != r.Resource || ev.Source != "/syncworker/w1" {
		t.Errorf("NewResultEvent = %+v", ev)
	}
	if ev.Data.SkippedFields == nil || len(ev.Data.SkippedFields) != 0 {
		t.Errorf("SkippedFields = %#v, want empty non-nil", ev.Data.SkippedFields)
	}
	b, err := messages.EncodeResultEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	d := m["data"].(map[string]any)
	if s, ok := d["skippedFields"].([]any); !ok || len(s) != 0 {
		t.Errorf("skippedFields encodes as %v, want []", d["skippedFields"])
	}
	if _, ok := d["error"]; !ok || d["error"] != nil {
		t.Errorf("error encodes as %v, want null", d["error"])
	}
}

// resultEvents returns one valid event per status, an id conflict and the
// results of replays.
func resultEvents() []messages.ResultEvent {
	var evs []messages.ResultEvent
	for _, st := range []messages.Status{messages.StatusApplied, messages.StatusUnchanged, messages.StatusSuperseded, messages.StatusRejected, messages.StatusFailed} {
		r := sampleResult()
		r.Status = st
		switch st {
		case messages.StatusUnchanged:
			r.AppliedFields, r.SkippedFields = nil, []string{"redirectUri", "providerFields.mode"}
		case messages.StatusSuperseded:
			r.AppliedFields, r.SkippedFields, r.Batch = nil, []string{"active"}, ""
			r.SkippedOrderKeys = map[string]int64{"active": 1732269600000}
			r.PayloadDigest = "sha256:" + strings.Repeat("0123456789abcdef", 4)
		case messages.StatusRejected:
			r.AppliedFields = nil
			r.Error = &messages.ResultError{Code: messages.CodeProviderNotFound, Message: `provider said "error-application-not-found" <400>`, HTTPStatus: 400}
		case messages.StatusFailed:
			r.AppliedFields, r.Attempts, r.Deliveries = nil, 12, 5
			r.Error = &messages.ResultError{Code: messages.CodeProviderUnavailable, Message: "503 after 12 attempts", HTTPStatus: 503, Retryable: true}
		}
		if st == messages.StatusFailed {
			// internal_error is the code of a command the worker itself failed on.
			r2 := r
			r2.Error = &messages.ResultError{Code: messages.CodeInternalError, Message: "panic while applying"}
			evs = append(evs, messages.NewResultEvent("/syncworker/w1", r2))
		}
		evs = append(evs, messages.NewResultEvent("/syncworker/w1", r))
	}
	r := sampleResult()
	r.Status, r.AppliedFields, r.Provider = messages.StatusRejected, nil, ""
	r.Error = &messages.ResultError{Code: messages.CodeIDConflict, Message: "id reused with another payload"}
	ev := messages.NewResultEvent("/syncworker/w1", r)
	ev.ID = messages.ConflictEventID(r.CommandID, "fedcba98765432100123456789abcdef0123456789abcdef0123456789abcdef")
	ev.Time = time.Date(2026, 11, 22, 11, 0, 0, 0, time.FixedZone("", -5*3600))
	evs = append(evs, ev)

	// A replay of a dead letter, applied; and one failed again, with the
	// longest token (the 20 digits of the largest stream sequence).
	r = sampleResult()
	ev = messages.NewResultEvent("/syncworker/w1", r)
	ev.ID = messages.ReplayResultEventID(r.CommandID, "17")
	evs = append(evs, ev)
	r = sampleResult()
	r.Status, r.AppliedFields, r.Attempts, r.Deliveries = messages.StatusFailed, nil, 3, 5
	r.Error = &messages.ResultError{Code: messages.CodeTimeout, Message: "no answer after 3 attempts", Retryable: true}
	ev = messages.NewResultEvent("/syncworker/w1", r)
	ev.ID = messages.ReplayResultEventID(r.CommandID, "18446744073709551615")
	return append(evs, ev)
}

func TestResultEventRoundTrip(t *testing.T) {
	for _, ev := range resultEvents() {
		b, err := messages.EncodeResultEvent(ev)
		if err != nil {
			t.Fatalf("EncodeResultEvent(%s): %v", ev.Data.Status, err)
		}
		got, err := messages.DecodeResultEvent(b)
		if err != nil {
			t.Fatalf("DecodeResultEvent(%s): %v\n%s", ev.Data.Status, err, b)
		}
		if !equalResultEvents(&ev, got) {
			t.Errorf("round trip changed the event:\n got %#v\nwant %#v", *got, ev)
		}
	}
}

func TestEncodeResultEventRefusesInvalid(t *testing.T) {
	for name, f := range map[string]func(ev *messages.ResultEvent){
		"status":     func(ev *messages.ResultEvent) { ev.Data.Status = "done" },
		"code":       func(ev *messages.ResultEvent) { ev.Data.Error = &messages.ResultError{Code: "oops"} },
		"id":         func(ev *messages.ResultEvent) { ev.ID = "x" },
		"attempts":   func(ev *messages.ResultEvent) { ev.Data.Attempts = -1 },
		"field name": func(ev *messages.ResultEvent) { ev.Data.AppliedFields = []string{"redirect_uri"} },
		"http status": func(ev *messages.ResultEvent) {
			ev.Data.Error = &messages.ResultError{Code: messages.CodeTimeout, HTTPStatus: 42}
		},
		"type":         func(ev *messages.ResultEvent) { ev.Type = messages.CommandType },
		"command id":   func(ev *messages.ResultEvent) { ev.Data.CommandID = ""; ev.ID = "result-" },
		"replay token": func(ev *messages.ResultEvent) { ev.ID = messages.ReplayResultEventID(ev.Data.CommandID, "x1") },
		"empty source": func(ev *messages.ResultEvent) { ev.Source = "" },
	} {
		ev := messages.NewResultEvent("/syncworker/w1", sampleResult())
		f(&ev)
		if _, err := messages.EncodeResultEvent(ev); err == nil {
			t.Errorf("%s: EncodeResultEvent accepted an invalid event", name)
		}
	}
}

func TestDecodeResultEventRefusals(t *testing.T) {
	valid, err := messages.EncodeResultEvent(messages.NewResultEvent("/syncworker/w1", sampleResult()))
	if err != nil {
		t.Fatal(err)
	}
	set := func(path []string, v any) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		obj := m
		for _, p := range path[:len(path)-1] {
			obj = obj[p].(map[string]any)
		}
		if v == nil {
			delete(obj, path[len(path)-1])
		} else {
			obj[path[len(path)-1]] = v
		}
		return encode(t, m)
	}
	rows := []struct {
		name  string
		body  []byte
		field string
	}{
		{"not JSON", []byte(`{`), "body"},
		{"unknown key", set([]string{"extra"}, 1), "extra"},
		{"unknown data key", set([]string{"data", "extra"}, 1), "data.extra"},
		{"unknown error key", set([]string{"data", "error"}, map[string]any{"code": "timeout", "message": "m", "retryable": true, "extra": 1}), "data.error.extra"},
		{"type", set([]string{"type"}, messages.CommandType), "type"},
		{"status", set([]string{"data", "status"}, "done"), "data.status"},
		{"order key of a field not skipped", set([]string{"data", "skippedOrderKeys"}, map[string]any{"name": 1}), "data.skippedOrderKeys"},
		{"order key not an integer", set([]string{"data", "skippedOrderKeys"}, map[string]any{"name": "1"}), "data.skippedOrderKeys.name"},
		{"payloadDigest not sha256", set([]string{"data", "payloadDigest"}, "md5:00"), "data.payloadDigest"},
		{"status missing", set([]string{"data", "status"}, nil), "data.status"},
		{"error code", set([]string{"data", "error"}, map[string]any{"code": "boom", "message": "m", "retryable": false}), "data.error.code"},
		{"error missing", set([]string{"data", "error"}, nil), "data.error"},
		{"error string", set([]string{"data", "error"}, "boom"), "data.error"},
		{"appliedFields null", set([]string{"data", "appliedFields"}, json.RawMessage(`null`)), "data.appliedFields"},
		{"attempts negative", set([]string{"data", "attempts"}, -1), "data.attempts"},
		{"deliveries fraction", set([]string{"data", "deliveries"}, 1.5), "data.deliveries"},
		{"sequence negative", set([]string{"data", "commandStreamSequence"}, -1), "data.commandStreamSequence"},
		{"startedAt bad", set([]string{"data", "startedAt"}, "yesterday"), "data.startedAt"},
		{"id not derived", set([]string{"id"}, "result-other"), "id"},
		{"replay id of another command", set([]string{"id"}, "result-other-replay-1"), "id"},
		{"replay token empty", set([]string{"id"}, "result-cmd-2026-11-22-000123-replay-"), "id"},
		{"replay token not digits", set([]string{"id"}, "result-cmd-2026-11-22-000123-replay-1a"), "id"},
		{"replay token too long", set([]string{"id"}, "result-cmd-2026-11-22-000123-replay-123456789012345678901"), "id"},
		{"replay token signed", set([]string{"id"}, "result-cmd-2026-11-22-000123-replay--1"), "id"},
		{"replay and conflict", set([]string{"id"}, "result-cmd-2026-11-22-000123-replay-1-conflict-0123456789abcdef"), "id"},
		{"subject empty", set([]string{"subject"}, ""), "subject"},
		{"datacontenttype", set([]string{"datacontenttype"}, "text/plain"), "datacontenttype"},
		{"httpStatus", set([]string{"data", "error"}, map[string]any{"code": "timeout", "message": "m", "retryable": true, "httpStatus": 99}), "data.error.httpStatus"},
	}
	for _, r := range rows {
		_, err := messages.DecodeResultEvent(r.body)
		var ie *messages.InvalidError
		if !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want *InvalidError", r.name, err)
			continue
		}
		if ie.Field != r.field || ie.Reason == "" {
			t.Errorf("%s: got %q (%s), want field %q", r.name, ie.Field, ie.Reason, r.field)
		}
	}
}
