package messages_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

const canary = "CANARY-s3cr3t-9f2c1b"

// TestSecretNeverPrinted checks that a client secret reaches neither an
// InvalidError, nor fmt output, nor slog output of a decoded command.
func TestSecretNeverPrinted(t *testing.T) {
	body := mutate(t, func(m map[string]any) {
		changes(m)["clientSecret"] = canary
		changes(m)["name"] = "App"
	})
	cmd, err := messages.DecodeCommand(testSubject, body, messages.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Data.Changes.ClientSecret.Reveal() != canary {
		t.Fatalf("secret not decoded")
	}

	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v\n", cmd, cmd, cmd)
	fmt.Fprintf(&out, "%v %+v %#v\n", *cmd, *cmd, *cmd)
	fmt.Fprintf(&out, "%v %+v %#v %s %q\n", cmd.Data, cmd.Data.Changes, *cmd.Data.Changes.ClientSecret, *cmd.Data.Changes.ClientSecret, *cmd.Data.Changes.ClientSecret)
	fmt.Fprint(&out, *cmd.Data.Changes.ClientSecret, cmd.Data.Changes.ClientSecret, "\n")
	for _, h := range []slog.Handler{
		slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}),
	} {
		log := slog.New(h)
		log.Info("command", "cmd", cmd, "value", *cmd, "data", cmd.Data, "changes", cmd.Data.Changes,
			"secret", cmd.Data.Changes.ClientSecret, slog.Any("secretValue", *cmd.Data.Changes.ClientSecret))
		log.Info("grouped", slog.Group("g", slog.Any("cmd", cmd)))
	}
	if strings.Contains(out.String(), canary) {
		t.Errorf("secret printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"fields":["name","clientSecret","redirectUri","active"]`) {
		t.Errorf("slog output lacks the changed field names:\n%s", out.String())
	}

	// The wire encoding carries it: that is intended.
	wire, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(wire, []byte(canary)) {
		t.Errorf("Encode() lost the secret")
	}
}

// TestSecretNotInErrors refuses commands in many ways around a secret and
// checks the error never quotes it.
func TestSecretNotInErrors(t *testing.T) {
	long := canary + strings.Repeat("x", 2100)
	bodies := map[string][]byte{
		"secret too long":            mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = long }),
		"secret in unknown key":      mutate(t, func(m map[string]any) { changes(m)["clientsecret"] = canary }),
		"secret as name number":      mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = canary; changes(m)["name"] = 1 }),
		"secret then syntax error":   []byte(`{"id":"a","data":{"changes":{"clientSecret":"` + canary + `" "x"}}}`),
		"secret in truncated body":   []byte(`{"id":"a","data":{"changes":{"clientSecret":"` + canary),
		"secret with bad connection": mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = canary; m["connection"] = "other" }),
		"secret in array":            mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = []any{canary} }),
		"secret as scope":            mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{canary + " x"} }),
		"secret as redirectUri":      mutate(t, func(m map[string]any) { changes(m)["redirectUri"] = canary }),
		"secret as authorizeUrl":     mutate(t, func(m map[string]any) { changes(m)["authorizeUrl"] = canary }),
		"secret in providerFields":   withRaw(t, "data", "providerFields", `{"customPayload":{"k":"`+canary+`","k":1}}`),
		"secret in oversize body":    mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = canary + strings.Repeat("x", 70000) }),
		"secret in invalid UTF-8":    withRaw(t, "data.changes", "clientSecret", "\""+canary+"\xff\""),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			_, err := messages.DecodeCommand(testSubject, body, messages.DecodeOptions{})
			var ie *messages.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InvalidError", err)
			}
			text := fmt.Sprintf("%v %+v %#v %s", err, ie, ie, ie.Error())
			if strings.Contains(text, canary) || strings.Contains(text, canary[:12]) {
				t.Errorf("error quotes the secret: %s", text)
			}
		})
	}
}
