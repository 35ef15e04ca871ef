package messages

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	i := skipSpace(raw, 0)
	if i == len(raw) {
		return "nothing"
	}
	switch raw[i] {
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
	if isIdentifier(key) {
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

// readValue reads body as exactly one JSON value: valid UTF-8, nested at
// most MaxDepth levels (checked by a byte scan before anything else), no
// syntax error, nothing but whitespace after it. The reason never quotes
// the body.
func readValue(body []byte) (json.RawMessage, *InvalidError) {
	if off := depthOver(body, MaxDepth); off >= 0 {
		return nil, invalidf("body", "is nested deeper than %d levels of objects and arrays (at byte offset %d)", MaxDepth, off)
	}
	if !utf8.Valid(body) {
		return nil, invalid("body", "is not valid UTF-8")
	}
	i := skipSpace(body, 0)
	if i == len(body) {
		return nil, invalid("body", "is empty: expected a JSON object")
	}
	end, err := scanValue(body, i, 0)
	if err != nil {
		return nil, invalid("body", err.Error())
	}
	if skipSpace(body, end) != len(body) {
		return nil, invalid("body", "must hold a single JSON object: found data after it")
	}
	return body[i:end], nil
}

// object is a JSON object read strictly: no duplicate keys, members kept by
// key along with their order in the body.
type object struct {
	path   string
	keys   []string
	values []json.RawMessage
	// index maps keys to their place, once the object has more than
	// smallObject of them; a small one (every object of a valid command)
	// is searched in order, without a map.
	index map[string]int
}

// smallObject is the most keys an object is searched in order for.
const smallObject = 16

// find returns the place of key in o, -1 when o has no such key.
func (o *object) find(key string) int {
	if o.index != nil {
		if i, ok := o.index[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range o.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// add appends a member whose key o does not have yet.
func (o *object) add(key string, value json.RawMessage) {
	o.keys = append(o.keys, key)
	o.values = append(o.values, value)
	switch {
	case o.index != nil:
		o.index[key] = len(o.keys) - 1
	case len(o.keys) > smallObject:
		o.index = make(map[string]int, 2*len(o.keys))
		for i, k := range o.keys {
			o.index[k] = i
		}
	}
}

// parseObject reads raw, a JSON value read by readValue (or a member of
// one), as an object at path ("" for the body itself). It refuses other
// kinds and duplicate keys. Members are slices of raw, not copies.
func parseObject(raw json.RawMessage, path string) (*object, *InvalidError) {
	field := path
	if field == "" {
		field = "body"
	}
	if kind := jsonKind(raw); kind != "object" {
		return nil, invalid(field, wrongKind("a JSON object", raw))
	}
	o := &object{path: path}
	ie := eachMember(raw, func(m member) *InvalidError {
		if o.find(m.key) >= 0 {
			return invalid(o.at(m.key), "duplicate key")
		}
		o.add(m.key, m.value)
		return nil
	})
	if ie != nil {
		return nil, ie
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
	if i := o.find(key); i >= 0 {
		return o.values[i], true
	}
	return nil, false
}

// require returns the member key or a "required" error.
func (o *object) require(key string) (json.RawMessage, *InvalidError) {
	v, ok := o.get(key)
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
	s, ok := stringValue(raw)
	if !ok {
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
	s, ok := stringValue(raw)
	if !ok || !timestampPattern.MatchString(s) {
		return time.Time{}, invalid(field, reason)
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil {
		return time.Time{}, invalid(field, reason)
	}
	return t, nil
}

// decodeStrings reads an array of strings; items are checked by item, whose
// field is field[i] (built only for an error). The strings share one
// allocation.
func decodeStrings(raw json.RawMessage, field string, item func(s string) string) ([]string, *InvalidError) {
	if jsonKind(raw) != "array" {
		return nil, invalid(field, wrongKind("an array of strings", raw))
	}
	var all []byte
	var ends []int32
	ie := eachItem(raw, func(i int, it []byte) *InvalidError {
		if jsonKind(it) != "string" {
			return invalid(field+"["+itoa(i)+"]", wrongKind("a string", it))
		}
		all = appendUnquoted(all, bytes.TrimSpace(it))
		ends = append(ends, int32(len(all)))
		return nil
	})
	if ie != nil {
		return nil, ie
	}
	joined := string(all)
	out := make([]string, len(ends))
	start := int32(0)
	for i, end := range ends {
		s := joined[start:end]
		start = end
		if c := utf8.RuneCountInString(s); c > maxStringChars {
			return nil, invalidf(field+"["+itoa(i)+"]", "must be at most %d characters long, got %d", maxStringChars, c)
		}
		if item != nil {
			if reason := item(s); reason != "" {
				return nil, invalid(field+"["+itoa(i)+"]", reason)
			}
		}
		out[i] = s
	}
	return out, nil
}

// stringValue returns the value of raw, a JSON string scanned by
// scanValue; ok is false when raw is not a string.
func stringValue(raw []byte) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	end, esc, err := scanString(raw, 0)
	if err != nil || end != len(raw) {
		return "", false
	}
	return unquote(raw, esc), true
}
