package messages

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendResultEvent appends ev's JSON, byte for byte what encoding/json
// writes for it with HTML escaping off (resultjson_test.go holds it to
// that), without reflection: the result event is encoded once per command.
func appendResultEvent(b []byte, ev *ResultEvent) ([]byte, error) {
	var err error
	b = append(b, `{"specversion":`...)
	b = appendJSONString(b, ev.SpecVersion)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, ev.ID)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, ev.Source)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, ev.Type)
	b = append(b, `,"time":`...)
	if b, err = appendJSONTime(b, ev.Time); err != nil {
		return nil, err
	}
	b = append(b, `,"datacontenttype":`...)
	b = appendJSONString(b, ev.DataContentType)
	if ev.Subject != "" {
		b = append(b, `,"subject":`...)
		b = appendJSONString(b, ev.Subject)
	}
	r := &ev.Data
	b = append(b, `,"data":{"commandId":`...)
	b = appendJSONString(b, r.CommandID)
	b = append(b, `,"connection":`...)
	b = appendJSONString(b, r.Connection)
	b = append(b, `,"provider":`...)
	b = appendJSONString(b, r.Provider)
	b = append(b, `,"resource":`...)
	b = appendJSONString(b, r.Resource)
	if r.Batch != "" {
		b = append(b, `,"batch":`...)
		b = appendJSONString(b, r.Batch)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(r.Status))
	b = append(b, `,"appliedFields":`...)
	b = appendJSONStrings(b, r.AppliedFields)
	b = append(b, `,"skippedFields":`...)
	b = appendJSONStrings(b, r.SkippedFields)
	if len(r.SkippedOrderKeys) > 0 {
		b = append(b, `,"skippedOrderKeys":{`...)
		keys := make([]string, 0, len(r.SkippedOrderKeys))
		for k := range r.SkippedOrderKeys {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, r.SkippedOrderKeys[k], 10)
		}
		b = append(b, '}')
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = append(b, `,"deliveries":`...)
	b = strconv.AppendInt(b, int64(r.Deliveries), 10)
	b = append(b, `,"commandStreamSequence":`...)
	b = strconv.AppendUint(b, r.CommandStreamSequence, 10)
	b = append(b, `,"startedAt":`...)
	if b, err = appendJSONTime(b, r.StartedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"finishedAt":`...)
	if b, err = appendJSONTime(b, r.FinishedAt); err != nil {
		return nil, err
	}
	if r.PayloadDigest != "" {
		b = append(b, `,"payloadDigest":`...)
		b = appendJSONString(b, r.PayloadDigest)
	}
	b = append(b, `,"error":`...)
	if e := r.Error; e == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"code":`...)
		b = appendJSONString(b, string(e.Code))
		b = append(b, `,"message":`...)
		b = appendJSONString(b, e.Message)
		if e.HTTPStatus != 0 {
			b = append(b, `,"httpStatus":`...)
			b = strconv.AppendInt(b, int64(e.HTTPStatus), 10)
		}
		b = append(b, `,"retryable":`...)
		b = strconv.AppendBool(b, e.Retryable)
		b = append(b, '}')
	}
	return append(b, "}}"...), nil
}

// appendJSONStrings appends a JSON array of strings ("null" for nil, as
// encoding/json).
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it (and
// refuses what it refuses).
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b, err := t.AppendText(append(b, '"'))
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// appendJSONString appends s as a JSON string the way encoding/json does
// with HTML escaping off: '"', '\\' and control characters escaped (\b,
// \f, \n, \r, \t short), invalid UTF-8 as \ufffd, U+2028 and U+2029 as
// \u escapes.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
