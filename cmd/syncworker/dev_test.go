package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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
	// No --data-dir: a temporary one, removed on exit.
	o := &options{httpAddr: "127.0.0.1:0"}
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, o, nil, pw, slog.New(slog.NewTextHandler(io.Discard, nil)))
		pw.Close()
	}()

	rows := map[string]string{}
	var httpAddr, configPath string
	sc := bufio.NewScanner(pr)
	timeout := time.AfterFunc(2*time.Minute, func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
	defer timeout.Stop()
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "dev-") {
			rows[f[0]] = line
		}
		if p, ok := strings.CutPrefix(line, "Config: "); ok {
			configPath = p
		}
		// "Health: /healthz and /readyz, metrics: /metrics on http://ADDR. Stop with Ctrl-C."
		if rest, ok := strings.CutPrefix(line, "Health: "); ok {
			_, after, _ := strings.Cut(rest, " on ")
			httpAddr, _, _ = strings.Cut(strings.TrimPrefix(after, "http://"), ". ")
			break
		}
	}
	if httpAddr == "" {
		cancel()
		t.Fatalf("dev printed no health and metrics address; rows: %v", rows)
	}
	metrics := get(t, httpAddr+"/metrics", http.StatusOK)
	ready := get(t, httpAddr+"/readyz", http.StatusOK)
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-done; err != nil {
		t.Fatalf("dev: %v", err)
	}
	// The temporary data dir (with the config dev wrote) is gone.
	if configPath == "" {
		t.Fatal("dev printed no Config: line")
	}
	if _, err := os.Stat(filepath.Dir(configPath)); !os.IsNotExist(err) {
		t.Errorf("dev left its data dir %s behind (%v)", filepath.Dir(configPath), err)
	}

	checkSampleRows(t, rows)

	// The counters moved, in Prometheus text, with no id in a label.
	if ready != "ready\n" {
		t.Errorf("/readyz = %q", ready)
	}
	applied := 0.0
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "oauthsync_commands_total{") && strings.Contains(line, `status="applied"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			applied += v
		}
	}
	if applied <= 0 {
		t.Errorf("oauthsync_commands_total{status=\"applied\"} = %v in /metrics, want > 0:\n%s", applied, metrics)
	}
	for _, name := range []string{"oauthsync_provider_requests_total{", "oauthsync_command_end_to_end_duration_seconds_bucket{",
		"oauthsync_dedup_store_duration_seconds_count{", "oauthsync_commands_in_flight{", "oauthsync_consumer_pending{",
		"oauthsync_consumer_ack_pending{", "oauthsync_duplicates_total{"} {
		if !strings.Contains(metrics, "\n"+name) {
			t.Errorf("/metrics has no %s...}", name)
		}
	}
	for id := range devSampleWant {
		if strings.Contains(metrics, id) {
			t.Errorf("/metrics mentions the command id %s", id)
		}
	}
	for _, res := range []string{"65a7d77142a7e12453052d59", "65a7d77142a7e12453052d60", "auth-dev-1"} {
		if strings.Contains(metrics, res) {
			t.Errorf("/metrics mentions the resource id %s", res)
		}
	}
}

// devSampleWant is what each row of the sample batch's results table
// holds (examples/dev-batch.ndjson).
var devSampleWant = map[string][]string{
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

// checkSampleRows requires one row per distinct command id of the sample
// batch (rows by id), each with devSampleWant's words.
func checkSampleRows(t *testing.T, rows map[string]string) {
	t.Helper()
	for id, words := range devSampleWant {
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
	if len(rows) != len(devSampleWant) {
		t.Fatalf("%d result rows, want one per distinct command id (%d): %v", len(rows), len(devSampleWant), rows)
	}
}

// get GETs http://addr/path and requires the status; it returns the body.
func get(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get("http://" + url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, body, status)
	}
	return string(body)
}
