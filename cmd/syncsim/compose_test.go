package main

import (
	"os"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestComposeCredentials keeps docker-compose.yml's worker credentials equal
// to the simulators': the compose config (deploy/docker-compose.config.yaml)
// reads each connection's auth from ${VAR}, and docker-compose.yml sets VAR.
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
		} `yaml:"services"`
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
	for _, s := range simulators(0) {
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
		if len(c.Auth) != len(s.auth) {
			t.Errorf("connection %s: auth keys %v, the simulator's %v", name, c.Auth, s.auth)
		}
		for k, v := range c.Auth {
			m := ref.FindStringSubmatch(v)
			if m == nil {
				t.Errorf("connection %s: auth.%s is not a ${VAR} reference", name, k)
				continue
			}
			if got, want := env[m[1]], s.auth[k]; got != want {
				t.Errorf("connection %s: docker-compose.yml sets %s=%q, the simulator takes %q", name, m[1], got, want)
			}
		}
	}
}
