package config

import (
	"strings"
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

const validConfig = `
nats: {url: "nats://127.0.0.1:4222", subjectPrefix: sync}
redis: {url: "${REDIS_URL}"}
worker: {ackWait: 20s, maxDeliver: 3}
connections:
  rc-prod:
    provider: rocketchat
    baseURL: https://chat.example.com
    auth: {userId: "${RC_USER_ID}", authToken: "${RC_AUTH_TOKEN}"}
    rateLimit: {perSecond: 10, burst: 20}
    maxInFlight: 8
`

func TestParseConfigExpandsEnvironment(t *testing.T) {
	cfg, err := Parse([]byte(validConfig), lookup(map[string]string{
		"REDIS_URL": "redis://127.0.0.1:6379/0", "RC_USER_ID": "u1", "RC_AUTH_TOKEN": "tok-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Connections["rc-prod"]
	if cfg.Redis.URL != "redis://127.0.0.1:6379/0" || c.Auth["authToken"] != "tok-secret" || c.Auth["userId"] != "u1" {
		t.Fatalf("expansion: redis=%q auth=%v", cfg.Redis.URL, c.Auth)
	}
	if time.Duration(cfg.Worker.AckWait) != 20*time.Second || cfg.Worker.MaxDeliver != 3 || c.RateLimit.PerSecond != 10 || c.MaxInFlight != 8 {
		t.Fatalf("decoded %+v", cfg.Worker)
	}
}

func TestParseStreamLimitsAndGrace(t *testing.T) {
	b := strings.Replace(validConfig, "maxDeliver: 3}", "maxDeliver: 3, unknownConnectionGrace: 90s}", 1) +
		"streams: {maxBytes: 1048576, maxMsgSize: -1}\n"
	cfg, err := Parse([]byte(b), lookup(map[string]string{"REDIS_URL": "", "RC_USER_ID": "u", "RC_AUTH_TOKEN": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Streams.MaxBytes != 1<<20 || cfg.Streams.MaxMsgSize != -1 || time.Duration(cfg.Worker.UnknownConnectionGrace) != 90*time.Second {
		t.Fatalf("decoded streams %+v, grace %v", cfg.Streams, cfg.Worker.UnknownConnectionGrace)
	}
}

func TestParseConfigRefusals(t *testing.T) {
	env := lookup(map[string]string{"REDIS_URL": "", "RC_USER_ID": "u", "RC_AUTH_TOKEN": "SECRET-VALUE"})
	cases := []struct {
		name, yaml, want string
	}{
		{"unset variable", strings.ReplaceAll(validConfig, "${REDIS_URL}", "${NOPE}"), "NOPE"},
		{"unknown key", validConfig + "\nextra: 1\n", "extra"},
		{"no connections", "nats: {url: x}\n", "at least one connection"},
		{"bad connection name", strings.Replace(validConfig, "rc-prod:", "RC_Prod:", 1), "RC_Prod"},
		{"missing provider", strings.Replace(validConfig, "provider: rocketchat", "", 1), "provider is required"},
		{"relative baseURL", strings.Replace(validConfig, "https://chat.example.com", "chat.example.com", 1), "baseURL"},
		{"bad duration", strings.Replace(validConfig, "ackWait: 20s", "ackWait: soon", 1), "duration"},
		{"bad storage", validConfig + "streams: {storage: tape}\n", "storage"},
		{"negative rate", strings.Replace(validConfig, "perSecond: 10", "perSecond: -1", 1), "negative"},
		{"negative maxBytes", validConfig + "streams: {maxBytes: -2}\n", "streams.maxBytes"},
		{"maxMsgSize over 2 GiB", validConfig + "streams: {maxMsgSize: 4294967296}\n", "streams.maxMsgSize"},
		{"negative grace", strings.Replace(validConfig, "maxDeliver: 3}", "maxDeliver: 3, unknownConnectionGrace: -1s}", 1), "unknownConnectionGrace"},
		{"not YAML", "connections: [", "config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), env)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SECRET-VALUE") {
				t.Fatalf("a credential reached the error: %v", err)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte("connections: {a: {provider: x, baseURL: 'http://h', auth: {k: '${V}'}}}"))
	f.Add([]byte("worker: {ackWait: 1h}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b, lookup(map[string]string{"V": "v"}))
		if err == nil && len(cfg.Connections) == 0 {
			t.Fatal("a config without connections was accepted")
		}
	})
}
