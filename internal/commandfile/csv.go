package commandfile

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/oauthsync/oauthsync/messages"
)

// canonicalKinds is the JSON kind of each canonical field, for typing CSV cells.
var canonicalKinds = map[string]string{
	messages.FieldName: "string", messages.FieldDescription: "string", messages.FieldClientID: "string",
	messages.FieldClientSecret: "string", messages.FieldRedirectURI: "string", messages.FieldScopes: "list",
	messages.FieldAuthorizeURL: "string", messages.FieldTokenURL: "string", messages.FieldActive: "bool",
}

// Mapping maps CSV column names to command targets: connection, resource,
// id, sequence, a canonical field ("redirectUri", or "changes.redirectUri")
// or a provider field ("providerFields.mode").
type Mapping map[string]string

// ParseMapping parses "column=target,column=target". An empty spec maps
// every column to the target of its own name.
func ParseMapping(spec string) (Mapping, error) {
	m := Mapping{}
	if strings.TrimSpace(spec) == "" {
		return m, nil
	}
	for _, pair := range strings.Split(spec, ",") {
		col, target, ok := strings.Cut(pair, "=")
		col, target = strings.TrimSpace(col), strings.TrimSpace(target)
		if !ok || col == "" || target == "" {
			return nil, fmt.Errorf("mapping %q: want column=target", pair)
		}
		if err := checkTarget(target); err != nil {
			return nil, fmt.Errorf("mapping %q: %w", pair, err)
		}
		m[col] = target
	}
	return m, nil
}

func checkTarget(target string) error {
	switch {
	case target == "connection", target == "resource", target == "id", target == "sequence":
		return nil
	case strings.HasPrefix(target, messages.ProviderFieldPrefix) && len(target) > len(messages.ProviderFieldPrefix):
		return nil
	}
	if _, ok := canonicalKinds[strings.TrimPrefix(target, "changes.")]; ok {
		return nil
	}
	return fmt.Errorf("unknown target %q (want connection, resource, id, sequence, a canonical field such as redirectUri, or providerFields.<name>)", target)
}

// ReadCSV reads a CSV file with a header row; each following record is one
// command, its columns mapped by m (columns not in m map to the target of
// their own name; a column that maps to no known target is an error). An
// empty cell leaves its field out. Cells are typed by their target: active
// is true/false, scopes a JSON array or a space- or comma-separated list,
// sequence an integer, provider fields JSON when the cell parses as JSON and
// a string otherwise. Lines are numbered as in the file, the header being
// line 1.
func ReadCSV(r io.Reader, m Mapping, opts Options) ([]Line, error) {
	if !messages.ValidCommandID(opts.Batch) {
		return nil, fmt.Errorf("batch id must be 1 to 128 characters of [A-Za-z0-9._:-]")
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	targets := make([]string, len(header))
	seen := map[string]string{}
	for i, col := range header {
		col = strings.TrimSpace(strings.TrimPrefix(col, "\ufeff"))
		t, ok := m[col]
		if !ok {
			t = col
		}
		if err := checkTarget(t); err != nil {
			return nil, fmt.Errorf("csv column %q: %w; map it with --map %s=<target>", col, err, col)
		}
		t = strings.TrimPrefix(t, "changes.")
		if other, dup := seen[t]; dup {
			return nil, fmt.Errorf("csv columns %q and %q both map to %s", other, col, t)
		}
		seen[t] = col
		targets[i] = t
	}
	for _, need := range []string{"connection", "resource"} {
		if !slices.Contains(targets, need) {
			return nil, fmt.Errorf("csv: no column maps to %s", need)
		}
	}
	type rec struct {
		number int
		cells  []string
		err    error
	}
	var recs []rec
	for {
		cells, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				recs = append(recs, rec{number: pe.StartLine, err: fmt.Errorf("has %d cells, the header %d", len(cells), len(header))})
				continue
			}
			return nil, fmt.Errorf("csv line %d: %w", pe.StartLine, pe.Err)
		}
		if err != nil {
			return nil, err
		}
		// Only a record read without error has field positions (a bare
		// quote in the first cell leaves none, and FieldPos panics).
		line, _ := cr.FieldPos(0)
		recs = append(recs, rec{number: line, cells: cells})
	}
	lines := make([]Line, len(recs))
	parallel(len(recs), func(i int) {
		rc := recs[i]
		lines[i] = Line{Number: rc.number}
		if rc.err != nil {
			lines[i].Err = &LineError{Line: rc.number, Reason: rc.err.Error()}
			return
		}
		sf, err := shortFormOf(targets, rc.cells)
		if err != nil {
			lines[i].Err = &LineError{Line: rc.number, Reason: err.Error()}
			return
		}
		content, _ := json.Marshal(rc.cells)
		cmd, wire, err := opts.build(rc.number, content, sf)
		if err != nil {
			lines[i].Err = err
			return
		}
		lines[i] = opts.finish(rc.number, cmd, wire)
	})
	refuseDuplicateIDs(lines)
	return lines, nil
}

// shortFormOf types one record's cells by their targets.
func shortFormOf(targets, cells []string) (ShortForm, error) {
	var sf ShortForm
	changes := map[string]any{}
	for i, t := range targets {
		v := strings.TrimSpace(cells[i])
		if v == "" {
			continue
		}
		switch {
		case t == "connection":
			sf.Connection = v
		case t == "resource":
			sf.Resource = v
		case t == "id":
			sf.ID = v
		case t == "sequence":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return sf, fmt.Errorf("sequence must be an integer")
			}
			sf.Sequence = &n
		case strings.HasPrefix(t, messages.ProviderFieldPrefix):
			if sf.ProviderFields == nil {
				sf.ProviderFields = map[string]json.RawMessage{}
			}
			name := strings.TrimPrefix(t, messages.ProviderFieldPrefix)
			if json.Valid([]byte(v)) {
				sf.ProviderFields[name] = json.RawMessage(v)
			} else {
				b, _ := json.Marshal(v)
				sf.ProviderFields[name] = b
			}
		default:
			val, err := typedCell(t, v)
			if err != nil {
				return sf, err
			}
			changes[t] = val
		}
	}
	if len(changes) > 0 {
		b, err := json.Marshal(changes)
		if err != nil {
			return sf, err
		}
		sf.Changes = b
	}
	return sf, nil
}

// typedCell is the JSON value of a canonical field's cell.
func typedCell(field, v string) (any, error) {
	switch canonicalKinds[field] {
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s must be true or false", field)
		}
		return b, nil
	case "list":
		if strings.HasPrefix(v, "[") {
			var l []string
			if err := json.Unmarshal([]byte(v), &l); err != nil {
				return nil, fmt.Errorf("%s must be a JSON array of strings or a space- or comma-separated list", field)
			}
			return l, nil
		}
		return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }), nil
	}
	return v, nil
}
