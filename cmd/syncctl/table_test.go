package main

import (
	"strings"
	"testing"
)

// TestTableAlignsLongIDs: a column is as wide as its widest cell, however
// long an id is, and a followed stream keeps earlier widths.
func TestTableAlignsLongIDs(t *testing.T) {
	var b strings.Builder
	tbl := newTable(&b, "STATUS", "COMMAND", "ERROR")
	tbl.row("applied", "short", "")
	tbl.row("rejected", "migrate-clients-0123456789ab:1234:0123456789-a-very-long-command-id", "unsupported_field: x")
	if err := tbl.flush(); err != nil {
		t.Fatal(err)
	}
	tbl.row("applied", "id", "")
	if err := tbl.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	col := strings.Index(lines[0], "ERROR")
	for _, l := range lines[1:] {
		if len(l) > col && strings.Contains(l, "unsupported") && strings.Index(l, "unsupported") != col {
			t.Errorf("ERROR column at %d in %q, header at %d", strings.Index(l, "unsupported"), l, col)
		}
		if cmdAt := strings.Index(lines[0], "COMMAND"); l[cmdAt-1] != ' ' || l[cmdAt] == ' ' {
			t.Errorf("COMMAND column misaligned in %q", l)
		}
	}
}
