package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarizeWarningsGroupsByMessageAcrossWorkers(t *testing.T) {
	dir := t.TempDir()
	w0 := `{"time":"2026-12-04T03:53:51Z","level":"WARN","msg":"circuit open"}
{"time":"2026-12-04T03:53:52Z","level":"INFO","msg":"command finished"}
not json at all
{"time":"2026-12-04T03:54:30Z","level":"WARN","msg":"circuit open"}
`
	w1 := `{"time":"2026-12-04T03:53:40Z","level":"ERROR","msg":"dedup store lost its state"}
{"time":"2026-12-04T03:54:00Z","level":"WARN","msg":"circuit open"}
`
	var paths []string
	for i, body := range []string{w0, w1} {
		p := filepath.Join(dir, "worker-"+string(rune('0'+i))+".log")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ss, err := summarizeWarnings(paths)
	if err != nil {
		t.Fatal(err)
	}
	got := formatWarnings(ss)
	want := `  ERROR 03:53:40..03:53:40 1x "dedup store lost its state"
  WARN 03:53:51..03:54:30 3x "circuit open"
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := summarizeWarnings([]string{filepath.Join(dir, "missing.log")}); err == nil || !strings.Contains(err.Error(), "missing.log") {
		t.Errorf("a missing log: error %v, want one naming it", err)
	}
}
