package config

import (
	"os"
	"slices"
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
		{"negative maxParked", strings.Replace(validConfig, "maxDeliver: 3}", "maxDeliver: 3, maxParked: -1s}", 1), "maxParked"},
		{"not YAML", "connections: [", "config"},
		{"key and keyFile", strings.Replace(validConfig, `authToken: "${RC_AUTH_TOKEN}"`, `authToken: "${RC_AUTH_TOKEN}", authTokenFile: /run/secrets/t`, 1), "authToken and authTokenFile are both set"},
		{"empty file path", strings.Replace(validConfig, `authToken: "${RC_AUTH_TOKEN}"`, `authTokenFile: ""`, 1), "auth.authTokenFile: the path is empty"},
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

// TestParseConfigExpandsValuesOnly: a ${VAR} in a comment or a key is left
// alone (the shipped example documents variables in comments), a plain
// value is typed after expansion, a quoted one stays a string, and an
// expanded value that YAML would read as syntax stays the value.
func TestParseConfigExpandsValuesOnly(t *testing.T) {
	yml := `# set ${UNSET_IN_COMMENT} to override
nats: {url: "${NATS}"}  # or ${ALSO_UNSET}
redis:
  url: ${REDIS}
connections:
  rc-prod:
    provider: rocketchat
    baseURL: https://chat.example.com
    auth:
      userId: "${USER}"
      authToken: ${TOKEN}
    rateLimit:
      perSecond: ${RATE}
      burst: 20
`
	cfg, err := Parse([]byte(yml), lookup(map[string]string{
		"NATS": "nats://127.0.0.1:4222", "REDIS": "", "USER": "007", "TOKEN": "a: b # not a comment", "RATE": "0.1667"}))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Connections["rc-prod"]
	if cfg.NATS.URL != "nats://127.0.0.1:4222" || cfg.Redis.URL != "" {
		t.Errorf("urls: nats=%q redis=%q", cfg.NATS.URL, cfg.Redis.URL)
	}
	if c.Auth["userId"] != "007" || c.Auth["authToken"] != "a: b # not a comment" {
		t.Errorf("auth: %q", c.Auth)
	}
	if c.RateLimit.PerSecond != 0.1667 {
		t.Errorf("perSecond = %v, want 0.1667", c.RateLimit.PerSecond)
	}
}

// TestExampleConfigLoads: deploy/config.example.yaml, with its variables
// set, is a valid configuration.
func TestExampleConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../../deploy/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Only the variables the file's values reference are set: one named
	// in a comment only must not be asked for.
	used := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, m := range envRef.FindAllStringSubmatch(line, -1) {
			used[m[1]] = true
		}
	}
	env := func(name string) (string, bool) {
		if !used[name] {
			return "", false
		}
		if strings.HasSuffix(name, "_URL") {
			return "https://example.com", true
		}
		return "x-" + strings.ToLower(name), true
	}
	if _, err := Parse(b, env); err != nil {
		t.Fatalf("deploy/config.example.yaml: %v", err)
	}
}

func TestSplitAuth(t *testing.T) {
	c := Connection{Auth: map[string]string{"userId": "u", "authTokenFile": "/run/secrets/t", "File": "x"}}
	static, files := c.SplitAuth()
	if len(static) != 2 || static["userId"] != "u" || static["File"] != "x" || len(files) != 1 || files["authToken"] != "/run/secrets/t" {
		t.Errorf("SplitAuth = %v, %v", static, files)
	}
	ac, secrets := c.Adapter("rc")
	if _, ok := ac.Auth["authTokenFile"]; ok || len(secrets) != 0 { // neither userId nor File names a secret
		t.Errorf("Adapter passes file keys on: %v %v", ac.Auth, secrets)
	}
}

// TestAdapterSecretsAreTheSecretValuesOnly: a connection's scrubbed values
// are its tokens, passwords and keys, never its URLs or user names (the
// scrubber redacts any long run of a secret, so a token URL taken for one
// would redact host names everywhere).
func TestAdapterSecretsAreTheSecretValuesOnly(t *testing.T) {
	c := Connection{Provider: "reelevant", BaseURL: "https://api.example.com", Auth: map[string]string{
		"tokenURL": "https://api.example.com/v2/auth/token", "clientId": "client-1", "username": "robot",
		"password": "pw-canary-123456", "refreshToken": "rt-canary-123456"}}
	_, secrets := c.Adapter("rl")
	slices.Sort(secrets)
	if want := []string{"pw-canary-123456", "rt-canary-123456"}; !slices.Equal(secrets, want) {
		t.Errorf("secrets = %q, want %q", secrets, want)
	}
}
