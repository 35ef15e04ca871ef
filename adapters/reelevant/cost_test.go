package reelevant_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
)

// deepWide is a provider field value nested levels deep, each level wide
// (unknown keys in reverse order), of about size bytes: the shape that
// cost most when field paths were built per level.
func deepWide(levels, size int) json.RawMessage {
	per := max(1, size/levels/16)
	var b strings.Builder
	for range levels {
		b.WriteString("{")
		for k := per; k > 0; k-- {
			fmt.Fprintf(&b, `"k_%08d":1,`, k)
		}
		b.WriteString(`"a":`)
	}
	b.WriteString("1" + strings.Repeat("}", levels))
	return json.RawMessage(b.String())
}

// validateCost returns the bytes allocated by one Validate of u, measured
// cold.
func validateCost(t testing.TB, a adapters.Adapter, u adapters.Update) uint64 {
	_ = a.Validate(u)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_ = a.Validate(u)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestValidateDeepProviderFieldsAllocationBounded: a provider field nested
// as deep as a command may be (messages.MaxDepth) and as big as a command
// may be is validated in memory linear in its size, whatever its shape
// (and deeper than messages lets through, too).
func TestValidateDeepProviderFieldsAllocationBounded(t *testing.T) {
	a := newAdapter(t, "https://api.reelevant.example", nil, "token")
	const size = 60 << 10
	for name, pf := range map[string]map[string]json.RawMessage{
		"configuration deep and wide": {"configuration": deepWide(28, size)},
		"customPayload deep and wide": {"customPayload": json.RawMessage(`{"tokenUrl":{"query":` + string(deepWide(26, size)) + `},"authorizeUrl":{}}`)},
		"configuration 5000 deep":     {"configuration": deepWide(5000, 0)},
	} {
		u := adapters.Update{Resource: "65a7d77142a7e12453052d59", ProviderFields: pf}
		if a.Validate(u) == nil {
			t.Fatalf("%s: Validate accepted unknown keys", name)
		}
		got := validateCost(t, a, u)
		t.Logf("%-30s %8d B allocated", name, got)
		size := 0
		for _, v := range pf {
			size += len(v)
		}
		// Decoding to map[string]any costs a few dozen bytes per input
		// byte; a path per level cost hundreds (57 MB for 105 KB).
		if limit := uint64(40 * size); got > limit {
			t.Errorf("%s: Validate allocated %d bytes, want at most %d (40 per byte of the %d-byte value)", name, got, limit, size)
		}
	}
}

func BenchmarkValidateDeepProviderFields(b *testing.B) {
	a := newAdapter(b, "https://api.reelevant.example", nil, "token")
	u := adapters.Update{Resource: "65a7d77142a7e12453052d59", ProviderFields: map[string]json.RawMessage{"configuration": deepWide(28, 60<<10)}}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Validate(u)
	}
}
