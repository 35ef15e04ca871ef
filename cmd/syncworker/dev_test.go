package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestDevRunsTheSampleBatchEndToEnd runs `syncworker dev`'s own code path:
// embedded NATS, the JetStream KV dedup store, the four provider simulators,
// a worker and the sample batch, and reads the results table it prints.
func TestDevRunsTheSampleBatchEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	o := &options{httpAddr: "127.0.0.1:0", dataDir: t.TempDir()}
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, o, pw, slog.New(slog.NewTextHandler(io.Discard, nil)))
		pw.Close()
	}()

	rows := map[string]string{}
	sc := bufio.NewScanner(pr)
	timeout := time.AfterFunc(2*time.Minute, func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
	defer timeout.Stop()
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "dev-") {
			rows[f[0]] = line
		}
		if strings.HasPrefix(line, "The worker keeps running") {
			break
		}
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-done; err != nil {
		t.Fatalf("dev: %v", err)
	}

	want := map[string][]string{
		"dev-0001": {"applied", "redirectUri"},
		"dev-0003": {"applied"},
		"dev-0004": {"superseded", "name"},
		"dev-0005": {"rejected", "unsupported_field"},
		"dev-0006": {"rejected", "provider_not_found"},
		"dev-0002": {"applied"},
		"dev-0007": {"applied"},
		"dev-0008": {"reelevant-dev", "applied", "scopes,tokenUrl,providerFields.mode"},
		"dev-0009": {"reelevant-dev", "rejected", "invalid_command", "providerFields.mode"},
		"dev-0010": {"hdp-dev", "applied", "name,scopes"},
		"dev-0011": {"jf-dev", "applied", "redirectUri,active"},
	}
	for id, words := range want {
		row, ok := rows[id]
		if !ok {
			t.Fatalf("no result row for %s; rows: %v", id, rows)
		}
		for _, w := range words {
			if !strings.Contains(row, w) {
				t.Errorf("%s: row %q lacks %q", id, row, w)
			}
		}
	}
	if len(rows) != len(want) {
		t.Fatalf("%d result rows, want one per distinct command id (%d): %v", len(rows), len(want), rows)
	}
}
