package messages_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

// shape is a command body built to cost as much as possible to decide.
type shape struct {
	name  string
	body  []byte
	valid bool // DecodeCommand accepts it
}

// withProviderFields returns a command whose data.providerFields object is pf
// (raw JSON), padded with a long description up to size bytes when size > 0.
func withProviderFields(pf string) []byte {
	return []byte(`{"specversion":"1.0","id":"cost-1","source":"/s","type":"oauthsync.client.update.v1",` +
		`"connection":"rc-prod","resource":"65a7d77142a7e12453052d59","data":{"sequence":1,"changes":{"clientSecret":"s3cret"},"providerFields":` + pf + `}}`)
}

// fill repeats unit, separated by sep, as often as fits in n bytes.
func fill(unit, sep string, n int) string {
	k := max(1, (n+len(sep))/(len(unit)+len(sep)))
	return strings.Repeat(unit+sep, k-1) + unit
}

// costShapes are the worst shapes found, each within DefaultMaxCommandBytes.
func costShapes() []shape {
	const room = messages.DefaultMaxCommandBytes - 400 // the envelope's bytes
	deepAt := func(depth int, leaf string) string {
		return strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat("}", depth)
	}
	var wideUnsorted, wideSorted strings.Builder
	for i := 5000; i > 0 && wideUnsorted.Len() < room-20; i-- {
		fmt.Fprintf(&wideUnsorted, `"k%05d":%d,`, i, i)
	}
	for i := 0; wideSorted.Len() < room-20; i++ {
		fmt.Fprintf(&wideSorted, `"k%05d":%d,`, i, i)
	}
	var scopes strings.Builder
	for i := 0; scopes.Len() < room-20; i++ {
		fmt.Fprintf(&scopes, `"s%d",`, i)
	}
	// Unsorted keys at each of 28 levels, each level wide: every level's
	// members must be moved into order.
	var nestedUnsorted strings.Builder
	levels := 28
	perLevel := (room / levels) / 12
	for l := 0; l < levels; l++ {
		nestedUnsorted.WriteString("{")
		for k := perLevel; k > 0; k-- {
			fmt.Fprintf(&nestedUnsorted, `"z%04d":1,`, k)
		}
		nestedUnsorted.WriteString(`"a":`)
	}
	nestedUnsorted.WriteString("1" + strings.Repeat("}", levels))
	// A Reelevant-shaped valid command of the maximum size: a big
	// customPayload and configuration.
	var query strings.Builder
	for i := 0; query.Len() < room/2-200; i++ {
		fmt.Fprintf(&query, `"param_%d":"value \"%d\" \u00e9\n",`, i, i)
	}
	q := strings.TrimSuffix(query.String(), ",")
	customPayload := `{"tokenUrl":{"query":{` + q + `},"body":{},"headers":{}},"authorizeUrl":{"query":{},"body":{` + q + `},"headers":{}}}`
	return []shape{
		{name: "deep objects 10000 (refused)", body: withProviderFields(`{"x":` + deepAt(10000, "1") + `}`)},
		{name: "deep arrays 32000 (refused)", body: withProviderFields(`{"x":` + strings.Repeat("[", 32000) + strings.Repeat("]", 32000) + `}`)},
		{name: "deep objects at the limit, repeated", body: withProviderFields(`{"x":[` + fill(deepAt(messages.MaxDepth-5, "1"), ",", room) + `]}`), valid: true},
		{name: "deep arrays at the limit, repeated", body: withProviderFields(`{"x":[` + fill(strings.Repeat("[", messages.MaxDepth-5)+strings.Repeat("]", messages.MaxDepth-5), ",", room) + `]}`), valid: true},
		{name: "duplicate key at the limit (refused)", body: withProviderFields(`{"x":` + deepAt(messages.MaxDepth-4, `{"b":1,"b":2}`) + `}`)},
		{name: "wide object, keys in order", body: withProviderFields(`{"x":{` + strings.TrimSuffix(wideSorted.String(), ",") + `}}`), valid: true},
		{name: "wide object, keys reversed", body: withProviderFields(`{"x":{` + strings.TrimSuffix(wideUnsorted.String(), ",") + `}}`), valid: true},
		{name: "wide unsorted objects nested 28 deep", body: withProviderFields(`{"x":` + nestedUnsorted.String() + `}`), valid: true},
		{name: "many empty objects", body: withProviderFields(`{"x":[` + fill(`{}`, ",", room) + `]}`), valid: true},
		{name: "many two-key unsorted objects", body: withProviderFields(`{"x":[` + fill(`{"b":1,"a":2}`, ",", room) + `]}`), valid: true},
		{name: "many small numbers", body: withProviderFields(`{"x":[` + fill("1", ",", room) + `]}`), valid: true},
		{name: "many floats", body: withProviderFields(`{"x":[` + fill("1.5e-9", ",", room) + `]}`), valid: true},
		{name: "long strings with escapes", body: withProviderFields(`{"x":[` + fill(`"`+strings.Repeat(`\u00e9\n\"`, 100)+`"`, ",", room) + `]}`), valid: true},
		{name: "surrogate pair escapes", body: withProviderFields(`{"x":"` + fill(`\ud83d\ude00`, "", room) + `"}`), valid: true},
		{name: "many scopes", body: []byte(`{"specversion":"1.0","id":"cost-1","source":"/s","type":"oauthsync.client.update.v1",` +
			`"connection":"rc-prod","resource":"65a7d77142a7e12453052d59","data":{"changes":{"scopes":[` + strings.TrimSuffix(scopes.String(), ",") + `]}}}`), valid: true},
		{name: "max-size Reelevant customPayload", body: withProviderFields(`{"customPayload":` + customPayload + `,"configuration":{"mode":"custom_payload","clientSecret":"n3sted","customPayload":{"tokenUrl":{},"authorizeUrl":{}}}}`), valid: true},
	}
}

// decide is what a worker does with a command body before any provider
// call: decode it and compute its payload digest.
func decide(tb testing.TB, s shape) {
	cmd, err := messages.DecodeCommand(testSubject, s.body, messages.DecodeOptions{})
	if (err == nil) != s.valid {
		tb.Fatalf("%s: DecodeCommand err = %v, want valid %v", s.name, err, s.valid)
	}
	if err != nil {
		return
	}
	if _, err := cmd.PayloadDigest(testDigestKey); err != nil {
		tb.Fatalf("%s: PayloadDigest: %v", s.name, err)
	}
}

// BenchmarkDecideCommand measures deciding the worst command shapes:
// `go test ./messages -run XXX -bench DecideCommand -benchmem`. cpu-ns/op
// is the process's CPU time per command (GC included), which a loaded
// machine distorts less than ns/op.
func BenchmarkDecideCommand(b *testing.B) {
	for _, s := range costShapes() {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(s.body)))
			b.ReportAllocs()
			cpu := cpuNanos()
			for b.Loop() {
				decide(b, s)
			}
			b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// maxDecideBytes bounds the memory allocated to decide any command within
// DefaultMaxCommandBytes (docs/CONTRACT.md §5.6: bounded memory per message).
const maxDecideBytes = 1 << 20

// TestDecideCommandAllocationBounded checks that no shape of command within
// the size limit allocates more than maxDecideBytes to decode and digest.
// (Time is measured by BenchmarkDecideCommand, not asserted.)
func TestDecideCommandAllocationBounded(t *testing.T) {
	if raceEnabled {
		t.Log("the race detector's own allocations are counted: bounds not asserted")
	}
	for _, s := range costShapes() {
		if len(s.body) > messages.DefaultMaxCommandBytes {
			t.Fatalf("%s: shape is %d bytes, over the limit", s.name, len(s.body))
		}
		decide(t, s) // warm up the code paths
		// Measured cold: two collections empty the canonicalizer pool, so
		// its buffers count too (warm, a worker allocates less).
		var perRun uint64
		for range 3 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			decide(t, s)
			runtime.ReadMemStats(&after)
			perRun = max(perRun, after.TotalAlloc-before.TotalAlloc)
		}
		t.Logf("%-40s %6d bytes  %8d B allocated (cold)", s.name, len(s.body), perRun)
		if perRun > maxDecideBytes && !raceEnabled {
			t.Errorf("%s: %d bytes allocated per command, want at most %d", s.name, perRun, maxDecideBytes)
		}
	}
}
