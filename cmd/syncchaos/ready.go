package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// rssKiB reads VmRSS from /proc/<pid>/status.
func rssKiB(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// readyz returns a worker's /readyz answer: ok and "status: body".
func readyz(addr string) (bool, string) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + addr + "/readyz")
	if err != nil {
		return false, "unreachable: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK, strconv.Itoa(resp.StatusCode) + ": " + strings.TrimSpace(string(b))
}

// waitReady waits until a worker's /readyz says ready.
func waitReady(ctx context.Context, addr string) error {
	var last string
	for {
		ok, s := readyz(addr)
		if ok {
			return nil
		}
		last = s
		select {
		case <-ctx.Done():
			return fmt.Errorf("worker at %s not ready: %s", addr, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
