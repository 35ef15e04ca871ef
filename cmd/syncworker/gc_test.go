package main

import (
	"runtime/debug"
	"testing"
)

func TestGCDefaultsYieldToTheEnvironment(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })

	tuneGC(func(string) (string, bool) { return "", false })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GC percent = %d, want the default %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("memory limit = %d, want the default %d", got, defaultMemoryLimit)
	}

	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 40)
	tuneGC(func(k string) (string, bool) { return "set", k == "GOGC" || k == "GOMEMLIMIT" })
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GOGC set: GC percent = %d, want it left at 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("GOMEMLIMIT set: memory limit = %d, want it left alone", got)
	}
}
