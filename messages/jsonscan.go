package messages

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small strict JSON scanner over bytes. It validates and
// slices values without copying them, so that reading a command costs
// time and memory linear in its size whatever its shape: every value is
// scanned once per structural level the decoder descends (at most four:
// body, data, changes or providerFields, a provider field), and nothing is
// built per nesting level. Field paths are built only for an error.

// MaxDepth is the deepest nesting of objects and arrays a command may hold,
// counting the command object itself as 1 (so data.providerFields.x's own
// value is at depth 4). Deeper commands are refused before anything is
// decoded (docs/CONTRACT.md §3). The deepest field a provider takes
// (Reelevant's configuration.customPayload.tokenUrl.query) is at depth 8.
const MaxDepth = 32

// jsonError is a syntax error at a byte offset of the scanned input.
type jsonError struct {
	off int // offset of the offending byte, or len(input) at the end
	eof bool
	msg string
}

func (e *jsonError) Error() string {
	if e.eof {
		return "is not valid JSON: unexpected end of input"
	}
	if e.msg != "" {
		return fmt.Sprintf("is not valid JSON: %s at byte offset %d", e.msg, e.off)
	}
	return fmt.Sprintf("is not valid JSON: syntax error at byte offset %d", e.off)
}

func errAt(b []byte, i int) *jsonError {
	if i >= len(b) {
		return &jsonError{off: len(b), eof: true}
	}
	return &jsonError{off: i}
}

// depthOver scans b, counting the nesting of '{' and '[' outside strings,
// and returns the offset of the first bracket that opens level limit+1, or
// -1 when b never nests deeper than limit. It does not validate b.
func depthOver(b []byte, limit int) int {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				return i
			}
		case '}', ']':
			depth--
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the offset of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanValue validates the JSON value starting at b[i] (no leading space)
// and returns the offset just after it. depth is the nesting level of the
// value's container; a container beyond MaxDepth is refused. b must be
// valid UTF-8.
func scanValue(b []byte, i, depth int) (int, *jsonError) {
	if i >= len(b) {
		return i, errAt(b, i)
	}
	switch c := b[i]; {
	case c == '{':
		if depth+1 > MaxDepth {
			return i, &jsonError{off: i, msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, errAt(b, i)
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return end, err
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return i, errAt(b, i)
			}
			i = skipSpace(b, i+1)
			if i, err = scanValue(b, i, depth+1); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, errAt(b, i)
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, errAt(b, i)
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		if depth+1 > MaxDepth {
			return i, &jsonError{off: i, msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err *jsonError
			if i, err = scanValue(b, i, depth+1); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, errAt(b, i)
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, errAt(b, i)
			}
			i = skipSpace(b, i+1)
		}
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	default:
		return i, errAt(b, i)
	}
}

func scanLiteral(b []byte, i int, lit string) (int, *jsonError) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k, errAt(b, i+k)
		}
	}
	return i + len(lit), nil
}

// scanString validates the string starting at b[i] == '"' and returns the
// offset after its closing quote and whether it holds an escape. An
// escaped UTF-16 surrogate must be paired (a high one followed by a low
// one): an unpaired surrogate has no UTF-8 form and no canonical form.
func scanString(b []byte, i int) (int, bool, *jsonError) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			return j + 1, escaped, nil
		case c < 0x20:
			return j, false, &jsonError{off: j, msg: "control character in a string"}
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return j + 1, false, errAt(b, j+1)
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				r, ok := hex4(b, j+2)
				if !ok {
					return j + 2, false, errAt(b, j+2)
				}
				j += 5
				switch {
				case r >= 0xD800 && r < 0xDC00:
					r2 := rune(-1)
					if j+6 < len(b) && b[j+1] == '\\' && b[j+2] == 'u' {
						if v, ok := hex4(b, j+3); ok {
							r2 = v
						}
					}
					if r2 < 0xDC00 || r2 > 0xDFFF {
						return j, false, &jsonError{off: j - 5, msg: "unpaired UTF-16 surrogate escape"}
					}
					j += 6
				case utf16.IsSurrogate(r):
					return j - 5, false, &jsonError{off: j - 5, msg: "unpaired UTF-16 surrogate escape"}
				}
			default:
				return j + 1, false, errAt(b, j+1)
			}
		}
	}
	return len(b), false, errAt(b, len(b))
}

// hex4 reads 4 hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanNumber validates the number starting at b[i].
func scanNumber(b []byte, i int) (int, *jsonError) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, errAt(b, i)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, errAt(b, i)
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, errAt(b, i)
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// unquote returns the value of s, a string scanned by scanString (quotes
// included).
func unquote(s []byte, escaped bool) string {
	if !escaped {
		return string(s[1 : len(s)-1])
	}
	return string(appendUnquoted(make([]byte, 0, len(s)), s))
}

// appendUnquoted appends the value of s, a string scanned by scanString
// (quotes included), to dst.
func appendUnquoted(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s, i+1)
			i += 4
			if utf16.IsSurrogate(r) { // paired: scanString checked it
				r2, _ := hex4(s, i+3)
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}

// member is one member of an object scanned by eachMember: its key and the
// bytes of its value (a slice of the input, not a copy).
type member struct {
	key   string
	value []byte
}

// eachMember calls fn for each member of the object raw, a value scanned
// by scanValue, in body order.
func eachMember(raw []byte, fn func(m member) *InvalidError) *InvalidError {
	i := skipSpace(raw, 1) // after '{'
	if raw[i] == '}' {
		return nil
	}
	for {
		kend, esc, _ := scanString(raw, i)
		key := unquote(raw[i:kend], esc)
		i = skipSpace(raw, skipSpace(raw, kend)+1) // after ':'
		vend := skipValid(raw, i)
		if ie := fn(member{key: key, value: raw[i:vend]}); ie != nil {
			return ie
		}
		i = skipSpace(raw, vend)
		if raw[i] == '}' {
			return nil
		}
		i = skipSpace(raw, i+1) // after ','
	}
}

// eachItem calls fn for each item of the array raw, a value scanned by
// scanValue.
func eachItem(raw []byte, fn func(i int, item []byte) *InvalidError) *InvalidError {
	i := skipSpace(raw, 1) // after '['
	if raw[i] == ']' {
		return nil
	}
	for n := 0; ; n++ {
		end := skipValid(raw, i)
		if ie := fn(n, raw[i:end]); ie != nil {
			return ie
		}
		i = skipSpace(raw, end)
		if raw[i] == ']' {
			return nil
		}
		i = skipSpace(raw, i+1)
	}
}

// skipValid returns the offset after the value at b[i], which scanValue
// has already accepted: a byte loop, no validation.
func skipValid(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number or literal
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
			i++
		}
		return i
	}
}

// skipString returns the offset after the valid string at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// appendCompact appends b, valid JSON, without the whitespace outside
// its strings.
func appendCompact(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			end := skipString(b, i)
			dst = append(dst, b[i:end]...)
			i = end - 1
		case !isSpace(c):
			dst = append(dst, c)
		}
	}
	return dst
}

// itoa is strconv.Itoa, named for the path builders.
func itoa(i int) string { return strconv.Itoa(i) }
