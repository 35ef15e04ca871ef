package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestComposeCredentials keeps docker-compose.yml's worker credentials equal
// to the simulators': the compose config (deploy/docker-compose.config.yaml)
// reads each connection's auth from ${VAR}, which docker-compose.yml sets,
// or from a file (<key>File: /run/secrets/<name>), a secret of
// docker-compose.yml; tokenURL is the simulator's token endpoint.
// (The deploy package's tests check the rest of the compose file.)
func TestComposeCredentials(t *testing.T) {
	var cfg struct {
		Connections map[string]struct {
			Provider string            `yaml:"provider"`
			Auth     map[string]string `yaml:"auth"`
		} `yaml:"connections"`
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Secrets     []string          `yaml:"secrets"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	for file, v := range map[string]any{"../../deploy/docker-compose.config.yaml": &cfg, "../../docker-compose.yml": &compose} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	env := compose.Services["syncworker"].Environment
	ref := regexp.MustCompile(`^\$\{([A-Z0-9_]+)\}$`)
	byConn := map[string]simulator{}
	for _, s := range simulators(0, 0) {
		byConn[s.connection] = s
	}
	if len(cfg.Connections) != len(byConn) {
		t.Errorf("the compose config has %d connections, there are %d simulators", len(cfg.Connections), len(byConn))
	}
	for name, c := range cfg.Connections {
		s, ok := byConn[name]
		if !ok || s.provider != c.Provider {
			t.Errorf("connection %s (%s) has no simulator of that provider", name, c.Provider)
			continue
		}
		want := s.auth
		if s.tokenAuth != nil {
			want = s.tokenAuth
		}
		if len(c.Auth) != len(want) {
			t.Errorf("connection %s: auth keys %v, the simulator's %v", name, c.Auth, want)
		}
		for k, v := range c.Auth {
			if base, ok := strings.CutSuffix(k, "File"); ok {
				secret, ok := strings.CutPrefix(v, "/run/secrets/")
				if !ok || !slices.Contains(compose.Services["syncworker"].Secrets, secret) || compose.Secrets[secret].File == "" {
					t.Errorf("connection %s: auth.%s %q is not a secret of the syncworker service", name, k, v)
					continue
				}
				b, err := os.ReadFile(filepath.Join("../..", compose.Secrets[secret].File))
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.TrimRight(string(b), "\r\n"); got != want[base] {
					t.Errorf("connection %s: secret %s holds %q, the simulator takes %q", name, secret, got, want[base])
				}
				continue
			}
			if k == "tokenURL" {
				if !strings.HasSuffix(v, want[k]) {
					t.Errorf("connection %s: tokenURL %s is not the simulator's %s", name, v, want[k])
				}
				continue
			}
			m := ref.FindStringSubmatch(v)
			if m == nil {
				t.Errorf("connection %s: auth.%s is not a ${VAR} reference", name, k)
				continue
			}
			if got, want := env[m[1]], want[k]; got != want {
				t.Errorf("connection %s: docker-compose.yml sets %s=%q, the simulator takes %q", name, m[1], got, want)
			}
		}
	}
}
