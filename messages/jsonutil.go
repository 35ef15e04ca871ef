package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds the strict JSON reading shared by DecodeCommand and
// DecodeResultEvent. Values are checked by the kind of their first byte
// before they are unmarshalled, so that null never silently becomes a zero
// value, and reasons never quote a value (only its kind).

// maxStringChars is the longest string field accepted, in characters.
const maxStringChars = 2048

// invalid returns an *InvalidError for field.
func invalid(field, reason string) *InvalidError {
	return &InvalidError{Field: field, Reason: reason}
}

// invalidf returns an *InvalidError for field with a formatted reason.
func invalidf(field, format string, args ...any) *InvalidError {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// jsonKind names the JSON type of raw, a syntactically valid value, by its
// first byte.
func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// wrongKind is the reason for a value of the wrong JSON type.
func wrongKind(want string, raw []byte) string {
	got := jsonKind(raw)
	if got == "null" {
		return fmt.Sprintf("must be %s, got null (omit the key instead of sending null)", want)
	}
	return fmt.Sprintf("must be %s, got %s", want, got)
}

// identifierPattern is a key that can be written after a dot in a field path.
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// joinPath appends key to a field path: "data" + "changes" is
// "data.changes"; a key that is not an identifier is quoted in brackets
// (and shortened), e.g. data.providerFields["1st"].
func joinPath(path, key string) string {
	if identifierPattern.MatchString(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(shorten(key)) + "]"
}

// shorten cuts s to at most 64 bytes, on a rune boundary, marking the cut.
func shorten(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// readValue reads body as exactly one JSON value: valid UTF-8, no syntax
// error, nothing but whitespace after it. The reason never quotes the body.
func readValue(body []byte) (json.RawMessage, *InvalidError) {
	if !utf8.Valid(body) {
		return nil, invalid("body", "is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, invalid("body", syntaxReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("body", "must hold a single JSON object: found data after it")
	}
	return raw, nil
}

// syntaxReason describes a JSON decoding error by position only, so that no
// part of the body (possibly a secret) is echoed.
func syntaxReason(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "is empty: expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "is not valid JSON: unexpected end of input"
	case errors.As(err, &se):
		return fmt.Sprintf("is not valid JSON: syntax error at byte offset %d", se.Offset)
	default:
		return "is not valid JSON"
	}
}

// object is a JSON object read strictly: no duplicate keys, members kept by
// key along with their order in the body.
type object struct {
	path    string
	keys    []string
	members map[string]json.RawMessage
}

// parseObject reads raw, a syntactically valid JSON value, as an object at
// path ("" for the body itself). It refuses other kinds and duplicate keys.
func parseObject(raw json.RawMessage, path string) (*object, *InvalidError) {
	field := path
	if field == "" {
		field = "body"
	}
	if kind := jsonKind(raw); kind != "object" {
		return nil, invalid(field, wrongKind("a JSON object", raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, invalid(field, syntaxReason(err))
	}
	o := &object{path: path, members: make(map[string]json.RawMessage)}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid(field, syntaxReason(err))
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, invalid(o.at(key), syntaxReason(err))
		}
		if _, dup := o.members[key]; dup {
			return nil, invalid(o.at(key), "duplicate key")
		}
		o.keys = append(o.keys, key)
		o.members[key] = value
	}
	return o, nil
}

// at is the field path of key in o.
func (o *object) at(key string) string { return joinPath(o.path, key) }

// only refuses the first key (in body order) that is not allowed.
// parseTop reads body as one top-level JSON object whose keys are all in
// allowed.
func parseTop(body []byte, allowed ...string) (*object, *InvalidError) {
	raw, ie := readValue(body)
	if ie != nil {
		return nil, ie
	}
	top, ie := parseObject(raw, "")
	if ie != nil {
		return nil, ie
	}
	if ie := top.only(allowed...); ie != nil {
		return nil, ie
	}
	return top, nil
}

func (o *object) only(allowed ...string) *InvalidError {
	for _, k := range o.keys {
		if !slices.Contains(allowed, k) {
			return invalidf(o.at(k), "unknown key; allowed keys are %s", strings.Join(allowed, ", "))
		}
	}
	return nil
}

// get returns the member key, if present.
func (o *object) get(key string) (json.RawMessage, bool) {
	v, ok := o.members[key]
	return v, ok
}

// require returns the member key or a "required" error.
func (o *object) require(key string) (json.RawMessage, *InvalidError) {
	v, ok := o.members[key]
	if !ok {
		return nil, invalid(o.at(key), "is required")
	}
	return v, nil
}

// decodeString reads a JSON string of at most maxStringChars characters.
func decodeString(raw json.RawMessage, field string) (string, *InvalidError) {
	if jsonKind(raw) != "string" {
		return "", invalid(field, wrongKind("a string", raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalid(field, "must be a valid JSON string")
	}
	if n := utf8.RuneCountInString(s); n > maxStringChars {
		return "", invalidf(field, "must be at most %d characters long, got %d", maxStringChars, n)
	}
	return s, nil
}

// decodeBool reads a JSON boolean.
func decodeBool(raw json.RawMessage, field string) (bool, *InvalidError) {
	if jsonKind(raw) != "boolean" {
		return false, invalid(field, wrongKind("a boolean", raw))
	}
	return bytes.Equal(bytes.TrimSpace(raw), []byte("true")), nil
}

// decodeInt reads a JSON integer (no fraction, no exponent) in [lo, hi].
func decodeInt(raw json.RawMessage, field string, lo, hi int64) (int64, *InvalidError) {
	if jsonKind(raw) != "number" {
		return 0, invalid(field, wrongKind("an integer", raw))
	}
	lit := string(bytes.TrimSpace(raw))
	if strings.ContainsAny(lit, ".eE") {
		return 0, invalid(field, "must be an integer written without fraction or exponent")
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, invalidf(field, "must be an integer between %d and %d", lo, hi)
	}
	return n, nil
}

// decodeUint reads a JSON integer (no fraction, no exponent) in [0, 2^64-1].
func decodeUint(raw json.RawMessage, field string) (uint64, *InvalidError) {
	if jsonKind(raw) != "number" {
		return 0, invalid(field, wrongKind("an integer", raw))
	}
	lit := string(bytes.TrimSpace(raw))
	if strings.ContainsAny(lit, ".eE") {
		return 0, invalid(field, "must be an integer written without fraction or exponent")
	}
	n, err := strconv.ParseUint(lit, 10, 64)
	if err != nil {
		return 0, invalidf(field, "must be an integer between 0 and %d", uint64(math.MaxUint64))
	}
	return n, nil
}

// timestampPattern is the shape of an RFC 3339 timestamp (the date-time
// production): time.Parse alone is more lenient (e.g. one-digit hours).
var timestampPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// decodeTime reads an RFC 3339 timestamp string.
func decodeTime(raw json.RawMessage, field string) (time.Time, *InvalidError) {
	const reason = `must be an RFC 3339 timestamp such as "2026-11-22T10:00:00Z"`
	if jsonKind(raw) != "string" {
		return time.Time{}, invalid(field, wrongKind("an RFC 3339 timestamp string", raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || !timestampPattern.MatchString(s) {
		return time.Time{}, invalid(field, reason)
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil {
		return time.Time{}, invalid(field, reason)
	}
	return t, nil
}

// decodeStrings reads an array of strings; items are checked by item, whose
// field is field[i].
func decodeStrings(raw json.RawMessage, field string, item func(s, field string) *InvalidError) ([]string, *InvalidError) {
	if jsonKind(raw) != "array" {
		return nil, invalid(field, wrongKind("an array of strings", raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid(field, "must be a valid JSON array")
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, ie := decodeString(it, f)
		if ie != nil {
			return nil, ie
		}
		if item != nil {
			if ie := item(s, f); ie != nil {
				return nil, ie
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// canonicalJSON rewrites a JSON value canonically: objects with their keys
// sorted, no insignificant whitespace, strings re-escaped the one way
// encoding/json writes them; numbers keep their literal. It refuses duplicate
// keys, naming where (relative to the value) in the error.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := canonicalValue(dec, &buf, ""); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return buf.Bytes(), nil
}

func canonicalValue(dec *json.Decoder, buf *bytes.Buffer, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.New("not valid JSON")
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			type member struct {
				key   string
				value []byte
			}
			var members []member
			seen := make(map[string]bool)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return errors.New("not valid JSON")
				}
				key, _ := kt.(string)
				if seen[key] {
					return fmt.Errorf("has a duplicate key at %s", joinPath(path, key))
				}
				seen[key] = true
				var sub bytes.Buffer
				if err := canonicalValue(dec, &sub, joinPath(path, key)); err != nil {
					return err
				}
				members = append(members, member{key, sub.Bytes()})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return errors.New("not valid JSON")
			}
			slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
			buf.WriteByte('{')
			for i, m := range members {
				if i > 0 {
					buf.WriteByte(',')
				}
				k, _ := json.Marshal(m.key)
				buf.Write(k)
				buf.WriteByte(':')
				buf.Write(m.value)
			}
			buf.WriteByte('}')
		case '[':
			buf.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := canonicalValue(dec, buf, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return errors.New("not valid JSON")
			}
			buf.WriteByte(']')
		default:
			return errors.New("not valid JSON")
		}
	case string:
		s, _ := json.Marshal(t)
		buf.Write(s)
	case json.Number:
		buf.WriteString(t.String())
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case nil:
		buf.WriteString("null")
	}
	return nil
}
