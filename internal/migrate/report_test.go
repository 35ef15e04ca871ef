package migrate_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/migrate"
)

var reportOutcomes = []migrate.Outcome{
	{Line: 1, CommandID: "b:1", Connection: "rc", Resource: "r1", Status: "applied", Previous: true},
	{Line: 2, CommandID: "b:2", Connection: "rc", Resource: "r2", Status: "rejected", ErrorCode: "provider_rejected",
		Error: "provider said: \"bad\", redirectUri <must> be https & absolute,\nsee line 2"},
	{Line: 4, Status: "invalid", Error: "line 4: resource: must match [A-Za-z0-9_-]{1,128}"},
	{Line: 5, CommandID: "b:5", Connection: "hdp", Resource: "r5", Status: "pending"},
	{Line: 6, CommandID: "b:6", Connection: "rc", Resource: "r6", Status: "superseded",
		SkippedFields: []string{"name", "active"}, SkippedOrderKeys: map[string]int64{"name": 1732269600000, "active": 7}},
}

func TestWriteReportNDJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := migrate.WriteReport(&buf, migrate.ReportNDJSON, reportOutcomes); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	var got []migrate.Outcome
	var raw []string
	for sc.Scan() {
		raw = append(raw, sc.Text())
		var o migrate.Outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, o)
	}
	if !reflect.DeepEqual(got, reportOutcomes) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, reportOutcomes)
	}
	// One object per line; HTML characters as they are; empty fields left out.
	if len(raw) != len(reportOutcomes) {
		t.Fatalf("%d lines, want %d", len(raw), len(reportOutcomes))
	}
	if !strings.Contains(raw[1], "<must> be https & absolute") {
		t.Errorf("HTML-escaped: %s", raw[1])
	}
	if !strings.Contains(raw[4], `"skippedFields":["name","active"],"skippedOrderKeys":{"active":7,"name":1732269600000}`) {
		t.Errorf("skipped fields and winning keys missing: %s", raw[4])
	}
	if strings.Contains(raw[2], "commandId") || strings.Contains(raw[3], "previous") || !strings.Contains(raw[0], `"previous":true`) {
		t.Errorf("empty fields written or previous missing:\n%s", strings.Join(raw, "\n"))
	}
}

func TestWriteReportCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := migrate.WriteReport(&buf, migrate.ReportCSV, reportOutcomes); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("%v:\n%s", err, text)
	}
	header := []string{"line", "commandId", "connection", "resource", "status", "errorCode", "error", "previous", "skippedFields"}
	if !slices.Equal(rows[0], header) {
		t.Errorf("header %v, want %v", rows[0], header)
	}
	if len(rows) != len(reportOutcomes)+1 {
		t.Fatalf("%d rows, want a header and %d", len(rows), len(reportOutcomes))
	}
	for i, o := range reportOutcomes {
		want := []string{strconv.Itoa(o.Line), o.CommandID, o.Connection, o.Resource, o.Status, o.ErrorCode, o.Error, strconv.FormatBool(o.Previous), ""}
		if i == 4 {
			// Each skipped field with the order key that won.
			want[8] = "name=1732269600000;active=7"
		}
		if !slices.Equal(rows[i+1], want) {
			t.Errorf("row %d\n got %q\nwant %q", i+1, rows[i+1], want)
		}
	}
	// The error with a comma, quotes and a newline is one quoted field.
	if !strings.Contains(text, `"provider said: ""bad"", redirectUri <must> be https & absolute,`+"\nsee line 2\"") {
		t.Errorf("error not quoted:\n%s", text)
	}
}

func TestWriteReportEmptyAndUnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := migrate.WriteReport(&buf, migrate.ReportCSV, nil); err != nil || buf.String() != "line,commandId,connection,resource,status,errorCode,error,previous,skippedFields\n" {
		t.Errorf("empty CSV report %q, err %v: want only the header", buf.String(), err)
	}
	buf.Reset()
	if err := migrate.WriteReport(&buf, migrate.ReportNDJSON, nil); err != nil || buf.Len() != 0 {
		t.Errorf("empty NDJSON report %q, err %v", buf.String(), err)
	}
	if err := migrate.WriteReport(&buf, migrate.ReportFormat(99), reportOutcomes); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestReportFormatOf(t *testing.T) {
	for path, want := range map[string]migrate.ReportFormat{
		"report.ndjson": migrate.ReportNDJSON, "dir/x.NDJSON": migrate.ReportNDJSON,
		"report.csv": migrate.ReportCSV, "/tmp/a.b/REPORT.Csv": migrate.ReportCSV,
		"report.json": 0, "report": 0, "report.csv.bak": 0, "": 0, "csv": 0,
	} {
		got, err := migrate.ReportFormatOf(path)
		if got != want || (err == nil) != (want != 0) {
			t.Errorf("ReportFormatOf(%q) = %v, %v; want %v", path, got, err, want)
		}
	}
}

func TestCreateReport(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		format migrate.ReportFormat
	}{{"out.ndjson", migrate.ReportNDJSON}, {"out.csv", migrate.ReportCSV}} {
		path := filepath.Join(dir, tc.name)
		// An existing file is replaced whole.
		if err := os.WriteFile(path, bytes.Repeat([]byte("old report\n"), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := migrate.CreateReport(path, reportOutcomes); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := migrate.WriteReport(&want, tc.format, reportOutcomes); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, want.Bytes())
		}
	}
	if err := migrate.CreateReport(filepath.Join(dir, "out.txt"), reportOutcomes); err == nil {
		t.Error("a .txt report was created")
	}
	if err := migrate.CreateReport(filepath.Join(dir, "missing", "out.csv"), reportOutcomes); err == nil {
		t.Error("a report in a missing directory was created")
	}
	// A report that cannot be renamed into place (a directory holds its
	// name) leaves nothing behind either.
	if err := os.MkdirAll(filepath.Join(dir, "taken.csv", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := migrate.CreateReport(filepath.Join(dir, "taken.csv"), reportOutcomes); err == nil {
		t.Error("a report replaced a directory")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"out.csv", "out.ndjson", "taken.csv"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %v, want %v (no temporary file left)", names, want)
	}
}
