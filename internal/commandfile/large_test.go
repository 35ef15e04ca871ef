package commandfile_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
)

// largeFile is an n-line NDJSON file in which each line in bad is invalid
// (in one of several ways) and every other line valid (short forms and full
// events, with and without ids); lines in blank are blank.
func largeFile(n int, bad, blank map[int]bool) string {
	badLines := []string{
		`{"connection":"rc-prod","resource":"r%d","changes":{"active":"yes"}}`,
		`{"connection":"rc-prod","resource":"r%d","changes":{"colour":"red"}}`,
		`{"connection":"rc-prod","resource":"r%d"`,
		`{"connection":"rc-prod","resource":"r/%d","changes":{"active":true}}`,
		`{"connection":"rc-prod","resource":"r%d","changes":{}}`,
		`{"connection":"rc-prod","resource":"r%d","changes":{"active":true},"extra":1}`,
		`{"specversion":"1.0","id":"e-%d","source":"/s","type":"oauthsync.client.update.v1","connection":"rc-prod","resource":"r1","batch":"other","data":{"changes":{"active":true}}}`,
		`{"id":"x y %d","connection":"rc-prod","resource":"r1","changes":{"active":true}}`,
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		switch {
		case blank[i]:
		case bad[i]:
			fmt.Fprintf(&b, badLines[i%len(badLines)], i)
		case i%5 == 0:
			fmt.Fprintf(&b, `{"specversion":"1.0","id":"ev-%d","source":"/s","type":"oauthsync.client.update.v1","connection":"jf-prod","resource":"auth-%d","data":{"sequence":%d,"changes":{"name":"App %d"}}}`, i, i, i, i)
		case i%3 == 0:
			fmt.Fprintf(&b, `{"id":"cmd-%d","connection":"reelevant-prod","resource":"r%d","sequence":%d,"changes":{"scopes":["read"]},"providerFields":{"mode":"refresh_token"}}`, i, i, i)
		default:
			fmt.Fprintf(&b, `{"connection":"rc-prod","resource":"r%d","changes":{"active":%t,"redirectUri":"https://app.example.com/cb/%d"}}`, i%977, i%2 == 0, i)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// scattered returns count line numbers in 1..n, spread unevenly (some
// adjacent, some at the ends).
func scattered(n, count int) map[int]bool {
	set := map[int]bool{1: true, n: true, 2: true}
	for i := 0; len(set) < count; i++ {
		set[1+(i*7919+i*i*31)%n] = true
	}
	return set
}

func TestReadNDJSONLargeFileKeepsOrder(t *testing.T) {
	t.Parallel()
	const n = 10_000
	bad := scattered(n, 200)
	blank := map[int]bool{}
	for i := 17; i < n; i += 997 {
		if !bad[i] {
			blank[i] = true
		}
	}
	opts := testOptions()
	lines := readNDJSON(t, largeFile(n, bad, blank), opts)
	if len(lines) != n-len(blank) {
		t.Fatalf("got %d lines, want %d", len(lines), n-len(blank))
	}
	var wantBad []int
	for i := 1; i <= n; i++ {
		if bad[i] {
			wantBad = append(wantBad, i)
		}
	}
	if gotBad := lineNumbers(commandfile.Invalid(lines)); !slices.Equal(gotBad, wantBad) {
		t.Fatalf("%d invalid lines, want %d; first differences: got %v, want %v", len(gotBad), len(wantBad), gotBad[:min(10, len(gotBad))], wantBad[:10])
	}
	prev := 0
	for _, l := range lines {
		if l.Number <= prev || blank[l.Number] {
			t.Fatalf("line %d after line %d", l.Number, prev)
		}
		prev = l.Number
		if err := checkLine(l, opts); err != nil {
			t.Fatal(err)
		}
		if l.Err == nil && !strings.Contains(string(l.Body), fmt.Sprintf("%d", l.Number)) {
			t.Fatalf("line %d: body %s is not this line's", l.Number, l.Body)
		}
	}
}

func TestReadCSVLargeFileKeepsOrder(t *testing.T) {
	t.Parallel()
	const n = 10_000
	bad := scattered(n, 200)
	var b strings.Builder
	b.WriteString("connection,resource,sequence,active,name\n")
	for i := 2; i <= n; i++ {
		switch {
		case bad[i] && i%2 == 0:
			fmt.Fprintf(&b, "rc-prod,r%d,%d,maybe,x\n", i, i)
		case bad[i]:
			fmt.Fprintf(&b, "rc-prod,r%d,%d\n", i, i)
		default:
			fmt.Fprintf(&b, "rc-prod,r%d,%d,true,App %d\n", i, i, i)
		}
	}
	delete(bad, 1) // the header
	opts := testOptions()
	lines := readCSV(t, b.String(), nil, opts)
	if len(lines) != n-1 {
		t.Fatalf("got %d lines, want %d", len(lines), n-1)
	}
	var wantBad []int
	for i, l := range lines {
		if l.Number != i+2 {
			t.Fatalf("line %d numbered %d", i+2, l.Number)
		}
		if err := checkLine(l, opts); err != nil {
			t.Fatal(err)
		}
		if bad[l.Number] {
			wantBad = append(wantBad, l.Number)
		} else if *l.Command.Data.Sequence != int64(l.Number) {
			t.Fatalf("line %d holds sequence %d", l.Number, *l.Command.Data.Sequence)
		}
	}
	if gotBad := lineNumbers(commandfile.Invalid(lines)); !slices.Equal(gotBad, wantBad) {
		t.Fatalf("invalid lines %v, want %v", gotBad, wantBad)
	}
}
