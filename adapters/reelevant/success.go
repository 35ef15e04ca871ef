package reelevant

import (
	"bytes"
	"encoding/json"
)

// plainSuccess reports, without decoding, that body is a JSON object whose
// status is "success" and whose error_code is absent or null (the last of
// each, as decoding keeps): what parseResponse's hot path needs of
// decodeEnvelope. It answers false when it cannot tell without decoding (a
// key or the status written with escapes), and decodeEnvelope decides.
// FuzzPlainSuccess holds it to decodeEnvelope.
func plainSuccess(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return false
	}
	success, errorCodeNull := false, true
	i := 1
	for {
		i = skipSpaces(b, i)
		if b[i] == '}' {
			break
		}
		kend, escaped := skipString(b, i)
		if escaped {
			return false
		}
		key := b[i+1 : kend-1]
		i = skipSpaces(b, skipSpaces(b, kend)+1) // after ':'
		vend := skipValue(b, i)
		switch string(key) {
		case "status":
			v := b[i:vend]
			if v[0] == '"' && bytes.IndexByte(v, '\\') >= 0 {
				return false
			}
			success = string(v) == `"`+statusSuccess+`"`
		case "error_code":
			errorCodeNull = string(b[i:vend]) == "null"
		}
		i = skipSpaces(b, vend)
		if b[i] == '}' {
			break
		}
		i++ // ','
	}
	return success && errorCodeNull
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the string starting at b[i] (valid
// JSON), and whether it holds an escape.
func skipString(b []byte, i int) (int, bool) {
	escaped := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
	return i, escaped
}

// skipValue returns the offset after the value starting at b[i] (valid
// JSON).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, _ := skipString(b, i)
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
