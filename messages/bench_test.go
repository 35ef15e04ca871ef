package messages_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

// appliedEvent is the result event the worker publishes most: an applied
// command, with its payload digest.
func appliedEvent() messages.ResultEvent {
	r := sampleResult()
	r.AppliedFields = []string{"clientSecret", "redirectUri", "scopes", "active", "providerFields.mode"}
	r.PayloadDigest = "sha256:" + strings.Repeat("0123456789abcdef", 4)
	r.StartedAt = time.Date(2026, 11, 22, 10, 0, 0, 10123456, time.UTC)
	r.FinishedAt = time.Date(2026, 11, 22, 10, 0, 0, 52654321, time.UTC)
	return messages.NewResultEvent("/syncworker/w1", r)
}

func BenchmarkEncodeResultEvent(b *testing.B) {
	ev := appliedEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := messages.EncodeResultEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// exampleCommand is examples/command.json and its subject.
func exampleCommand(b *testing.B) (subject string, body []byte) {
	body, err := os.ReadFile("../examples/command.json")
	if err != nil {
		b.Fatal(err)
	}
	return messages.Subjects{}.Command("rc-prod", "65a7d77142a7e12453052d59"), body
}

// benchDecode decodes body on subject, and computes its payload digest
// when digest is set, once per iteration.
func benchDecode(b *testing.B, subject string, body []byte, digest bool) {
	b.ReportAllocs()
	for b.Loop() {
		cmd, err := messages.DecodeCommand(subject, body, messages.DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if digest {
			if _, err := cmd.PayloadDigest(testDigestKey); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkDecodeCommand(b *testing.B) {
	subject, body := exampleCommand(b)
	benchDecode(b, subject, body, false)
}

// BenchmarkDecodeCommandDigest is what the worker does with each command
// before any provider call: decode it and compute its payload digest.
func BenchmarkDecodeCommandDigest(b *testing.B) {
	subject, body := exampleCommand(b)
	benchDecode(b, subject, body, true)
}

// BenchmarkDecodeCommandFull decodes a command with every canonical field
// and a provider field.
func BenchmarkDecodeCommandFull(b *testing.B) {
	body := mutate(b, func(m map[string]any) {
		data(m)["changes"] = map[string]any{
			"name": "App", "description": "d", "clientId": "cid", "clientSecret": "shh",
			"redirectUri": "https://a.example.com/cb", "scopes": []any{"openid", "email", "profile"},
			"authorizeUrl": "https://idp.example.com/authorize", "tokenUrl": "https://idp.example.com/token",
			"active": false,
		}
		data(m)["providerFields"] = map[string]any{"mode": "client_credentials", "configuration": map[string]any{"b": []any{1, 2}, "a": "x"}}
	})
	benchDecode(b, testSubject, body, true)
}
