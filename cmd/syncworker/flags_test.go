package main

import (
	"context"
	"strings"
	"testing"
)

// TestFlagsKeepTheirDefaultsAndEnvironment: the worker keeps :9090 (probes
// reach it in a pod), dev listens on loopback only; every flag still reads
// SYNCWORKER_<NAME>.
func TestFlagsKeepTheirDefaultsAndEnvironment(t *testing.T) {
	root, _, _ := newRoot(nil, nil, nil)
	dev, _, err := root.Find([]string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	if got := root.Flags().Lookup("http-addr").DefValue; got != ":9090" {
		t.Errorf("worker --http-addr default %q", got)
	}
	if got := dev.Flags().Lookup("http-addr").DefValue; got != "127.0.0.1:9090" {
		t.Errorf("dev --http-addr default %q, want loopback", got)
	}
	for _, name := range []string{"config", "http-addr", "data-dir", "nats-url", "redis-url", "instance", "log-level", "log-format", "no-provision", "pprof"} {
		if root.Flags().Lookup(name) == nil {
			t.Errorf("the worker lost --%s", name)
		}
	}

	env := map[string]string{"SYNCWORKER_CONFIG": "/nonexistent/oauthsync.yaml", "SYNCWORKER_LOG_FORMAT": "text"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var stdout, stderr strings.Builder
	code := run(context.Background(), nil, &stdout, &stderr, lookup)
	if code != 2 || !strings.Contains(stderr.String(), "/nonexistent/oauthsync.yaml") {
		t.Errorf("SYNCWORKER_CONFIG: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	env = map[string]string{"SYNCWORKER_LOG_LEVEL": "loud"}
	code = run(context.Background(), []string{"--config", "/nonexistent/x.yaml", "--log-format", "text"}, &stdout, &stderr, lookup)
	if code != 2 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	code = run(context.Background(), []string{"dev", "--log-format", "text"}, &stdout, &stderr, lookup)
	if code != 2 || !strings.Contains(stderr.String(), "--log-level") {
		t.Errorf("SYNCWORKER_LOG_LEVEL=loud in dev: exit %d, %q", code, stderr.String())
	}
}
