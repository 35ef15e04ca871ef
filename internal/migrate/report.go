package migrate

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReportFormat is a report file's format, chosen by its extension.
type ReportFormat int

// The report formats.
const (
	ReportNDJSON ReportFormat = iota + 1
	ReportCSV
)

// ReportFormatOf returns the format of a report path: NDJSON for .ndjson,
// CSV for .csv, an error otherwise.
func ReportFormatOf(path string) (ReportFormat, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".ndjson":
		return ReportNDJSON, nil
	case ".csv":
		return ReportCSV, nil
	}
	return 0, fmt.Errorf("report %s: the name must end in .ndjson or .csv", path)
}

// reportColumns are the CSV report's columns.
var reportColumns = []string{"line", "commandId", "connection", "resource", "status", "errorCode", "error", "previous", "skippedFields"}

// SkippedCell is the skippedFields cell of a CSV report row: each skipped
// field with the order key that won, "name=1732269600000;scopes=7" (a
// field whose key is unknown stands alone); empty when nothing was skipped.
func SkippedCell(o Outcome) string {
	parts := make([]string, 0, len(o.SkippedFields))
	for _, f := range o.SkippedFields {
		if k, ok := o.SkippedOrderKeys[f]; ok {
			parts = append(parts, f+"="+strconv.FormatInt(k, 10))
		} else {
			parts = append(parts, f)
		}
	}
	return strings.Join(parts, ";")
}

// WriteReport writes one row per outcome: NDJSON objects or CSV rows with a
// header. Rows hold ids, statuses and error texts, never a field's value.
func WriteReport(w io.Writer, format ReportFormat, outcomes []Outcome) error {
	switch format {
	case ReportNDJSON:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, o := range outcomes {
			if err := enc.Encode(o); err != nil {
				return err
			}
		}
		return nil
	case ReportCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(reportColumns); err != nil {
			return err
		}
		for _, o := range outcomes {
			if err := cw.Write([]string{strconv.Itoa(o.Line), o.CommandID, o.Connection, o.Resource,
				o.Status, o.ErrorCode, o.Error, strconv.FormatBool(o.Previous), SkippedCell(o)}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	return fmt.Errorf("unknown report format %d", format)
}

// CreateReport writes the report to path atomically: to a temporary file
// beside it, renamed into place once complete.
func CreateReport(path string, outcomes []Outcome) error {
	format, err := ReportFormatOf(path)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(f.Name())
	if err := WriteReport(f, format, outcomes); err != nil {
		f.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
