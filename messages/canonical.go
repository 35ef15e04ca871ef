package messages

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// This file writes JSON values in the canonical form of docs/payload-digest.md:
// RFC 8785 (JSON Canonicalization Scheme): object members sorted by their
// keys' UTF-16 code units, no insignificant whitespace, strings escaped
// the one JCS way, numbers written as ECMAScript writes the IEEE double
// they denote. It works in one pass over the input, in time and memory
// linear in its size (each object's members are written once, then moved
// into key order if they are not in it already).

// errNotFinite refuses a number that no IEEE double holds (1e400).
var errNotFinite = errors.New("holds a number out of the range of a double")

// pathError is a canonicalisation error at a path relative to the value;
// the path is built only when the error unwinds, one segment per level.
type pathError struct {
	path string // "" at the value itself; ".a", "[0]", `["x y"]` below it
	msg  string
}

func (e *pathError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.msg + " at " + e.path[min(1, len(e.path)):]
}

// at returns a copy of err with seg prepended to its path (seg is ".key"
// or "[i]").
func (e *pathError) at(seg string) *pathError {
	return &pathError{path: seg + e.path, msg: e.msg}
}

// keySegment is the path segment of key: .key for an identifier, else
// ["key"] (shortened).
func keySegment(key string) string {
	if isIdentifier(key) {
		return "." + key
	}
	return "[" + strconv.Quote(shorten(key)) + "]"
}

// span is one written member of an object being canonicalised: offsets in
// canonicalizer.out of its key's start, its key's end and its value's end.
type span struct{ start, keyEnd, end int32 }

// canonicalizer writes canonical JSON to out. It is reused across values
// so that its buffers are allocated once.
type canonicalizer struct {
	out     []byte
	spans   []span // the members of the objects open, innermost last
	scratch []byte
	sorter  spanSorter
	// secret, when set, replaces the value of every secret member
	// (isSecretKey, string value) by the string it returns.
	secret func(value []byte) string
	unq    []byte
	in     []byte // input assembled by the caller, if any
}

// spanSorter sorts spans by key; a pointer to it satisfies sort.Interface
// without allocating.
type spanSorter struct {
	c *canonicalizer
	s []span
}

func (s *spanSorter) Len() int      { return len(s.s) }
func (s *spanSorter) Swap(i, j int) { s.s[i], s.s[j] = s.s[j], s.s[i] }
func (s *spanSorter) Less(i, j int) bool {
	return compareKeys(s.c.key(s.s[i]), s.c.key(s.s[j])) < 0
}

// key returns the canonical (quoted) key of sp.
func (c *canonicalizer) key(sp span) []byte { return c.out[sp.start:sp.keyEnd] }

// value writes the canonical form of the valid JSON value at b[i:] (as
// scanValue accepted it) and returns the offset after it.
func (c *canonicalizer) value(b []byte, i, depth int) (int, *pathError) {
	switch b[i] {
	case '{':
		return c.object(b, i, depth+1)
	case '[':
		if depth+1 > MaxDepth {
			return i, &pathError{msg: "is nested too deep"}
		}
		c.out = append(c.out, '[')
		i = skipSpace(b, i+1)
		if b[i] == ']' {
			c.out = append(c.out, ']')
			return i + 1, nil
		}
		for n := 0; ; n++ {
			if n > 0 {
				c.out = append(c.out, ',')
			}
			var err *pathError
			if i, err = c.value(b, i, depth+1); err != nil {
				return i, err.at("[" + itoa(n) + "]")
			}
			i = skipSpace(b, i)
			if b[i] == ']' {
				c.out = append(c.out, ']')
				return i + 1, nil
			}
			i = skipSpace(b, i+1)
		}
	case '"':
		end, esc, _ := scanString(b, i)
		c.out = c.appendString(c.out, b[i:end], esc)
		return end, nil
	case 't':
		c.out = append(c.out, "true"...)
		return i + 4, nil
	case 'f':
		c.out = append(c.out, "false"...)
		return i + 5, nil
	case 'n':
		c.out = append(c.out, "null"...)
		return i + 4, nil
	default:
		end, _ := scanNumber(b, i)
		var ok bool
		if c.out, ok = appendNumber(c.out, b[i:end]); !ok {
			return end, &pathError{msg: errNotFinite.Error()}
		}
		return end, nil
	}
}

// object writes the object at b[i] canonically.
func (c *canonicalizer) object(b []byte, i, depth int) (int, *pathError) {
	if depth > MaxDepth {
		return i, &pathError{msg: "is nested too deep"}
	}
	start := len(c.out)
	c.out = append(c.out, '{')
	base := len(c.spans)
	defer func() { c.spans = c.spans[:base] }()
	i = skipSpace(b, i+1)
	if b[i] != '}' {
		for n := 0; ; n++ {
			if n > 0 {
				c.out = append(c.out, ',')
			}
			ms := len(c.out)
			kend, esc, _ := scanString(b, i)
			c.out = c.appendString(c.out, b[i:kend], esc)
			ke := len(c.out)
			c.out = append(c.out, ':')
			i = skipSpace(b, skipSpace(b, kend)+1)
			var err *pathError
			if c.secret != nil && b[i] == '"' && isSecretKey(c.out[ms:ke]) {
				end, esc, _ := scanString(b, i)
				if esc {
					c.unq = appendUnquoted(c.unq[:0], b[i:end])
				} else {
					c.unq = append(c.unq[:0], b[i+1:end-1]...)
				}
				c.out = appendJCSString(c.out, c.secret(c.unq))
				i = end
			} else if i, err = c.value(b, i, depth); err != nil {
				return i, err.at(keySegment(string(appendUnquoted(nil, c.out[ms:ke]))))
			}
			c.spans = append(c.spans, span{int32(ms), int32(ke), int32(len(c.out))})
			i = skipSpace(b, i)
			if b[i] == '}' {
				i++
				break
			}
			i = skipSpace(b, i+1)
		}
	} else {
		i++
	}
	members := c.spans[base:]
	sorted := true
	for k := 1; k < len(members); k++ {
		switch cmp := compareKeys(c.key(members[k-1]), c.key(members[k])); {
		case cmp == 0:
			return i, dupKey(c.key(members[k]))
		case cmp > 0:
			sorted = false
		}
	}
	if !sorted {
		c.sorter.c, c.sorter.s = c, members
		sort.Sort(&c.sorter)
		c.sorter.s = nil
		for k := 1; k < len(members); k++ {
			if compareKeys(c.key(members[k-1]), c.key(members[k])) == 0 {
				return i, dupKey(c.key(members[k]))
			}
		}
		// Move the members into key order through scratch.
		body := start + 1
		c.scratch = append(c.scratch[:0], c.out[body:]...)
		c.out = c.out[:body]
		for k, m := range members {
			if k > 0 {
				c.out = append(c.out, ',')
			}
			c.out = append(c.out, c.scratch[int(m.start)-body:int(m.end)-body]...)
		}
	}
	c.out = append(c.out, '}')
	return i, nil
}

// dupKey is the error for a duplicate key, given its canonical form.
func dupKey(quoted []byte) *pathError {
	key := string(appendUnquoted(nil, quoted))
	return &pathError{path: keySegment(key), msg: "has a duplicate key"}
}

// appendString appends the canonical form of s, a JSON string scanned by
// scanString (quotes included).
func (c *canonicalizer) appendString(dst, s []byte, escaped bool) []byte {
	if !escaped && !needsEscape(s[1:len(s)-1]) {
		return append(dst, s...)
	}
	c.unq = appendUnquoted(c.unq[:0], s)
	return appendJCSBytes(dst, c.unq)
}

// needsEscape reports whether s holds a byte JCS escapes.
func needsEscape(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// appendJCSString appends s as a JCS string: '"' and '\' escaped with a
// backslash, \b \t \n \f \r for those controls, \u00xx (lowercase hex) for
// the other controls below U+0020, every other character as itself.
func appendJCSString(dst []byte, s string) []byte {
	return appendJCSBytes(dst, []byte(s))
}

func appendJCSBytes(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20:
			dst = append(dst, c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
	}
	return append(dst, '"')
}

// appendNumber appends the canonical form of the JSON number lit: the
// IEEE double it denotes, written as ECMAScript's Number.prototype.toString
// writes it (RFC 8785 §3.2.2.3). ok is false when lit is beyond a double.
func appendNumber(dst, lit []byte) ([]byte, bool) {
	// Fast path: an integer literal of at most 15 digits is exact and
	// written as is (but -0 is 0).
	if d := lit; len(d) <= 16 {
		if d[0] == '-' {
			d = d[1:]
		}
		if len(d) > 0 && len(d) <= 15 && allDigits(d) {
			if len(d) == 1 && d[0] == '0' {
				return append(dst, '0'), true
			}
			return append(dst, lit...), true
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil || math.IsInf(f, 0) {
		return dst, false
	}
	return appendES6Number(dst, f), true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendES6Number writes f as ECMAScript's Number.prototype.toString does.
func appendES6Number(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // and -0
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Go writes e-07 and e+07; ECMAScript writes e-7 and e+7.
		b := dst[n:]
		if k := len(b); k >= 4 && b[k-4] == 'e' && b[k-2] == '0' {
			b[k-2] = b[k-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// compareKeys compares two canonical (quoted) keys by the UTF-16 code
// units of their values, as RFC 8785 §3.2.3 sorts members.
func compareKeys(a, b []byte) int {
	a, b = a[1:len(a)-1], b[1:len(b)-1]
	for len(a) > 0 && len(b) > 0 {
		// Fast path: plain ASCII bytes compare as code units.
		if a[0] < utf8.RuneSelf && a[0] != '\\' && b[0] < utf8.RuneSelf && b[0] != '\\' {
			if a[0] != b[0] {
				return int(a[0]) - int(b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		var ra, rb rune
		ra, a = nextCanonicalRune(a)
		rb, b = nextCanonicalRune(b)
		if ra == rb {
			continue
		}
		ua, ub := utf16Lead(ra), utf16Lead(rb)
		if ua != ub {
			return int(ua) - int(ub)
		}
		// Same lead surrogate: both are beyond U+FFFF, and code point
		// order is code unit order.
		return int(ra) - int(rb)
	}
	return len(a) - len(b)
}

// utf16Lead is the first UTF-16 code unit of r.
func utf16Lead(r rune) rune {
	if r1, _ := utf16.EncodeRune(r); r1 != utf8.RuneError {
		return r1
	}
	return r
}

// nextCanonicalRune decodes the first character of s, the inside of a
// canonical string.
func nextCanonicalRune(s []byte) (rune, []byte) {
	if s[0] != '\\' {
		r, n := utf8.DecodeRune(s)
		return r, s[n:]
	}
	switch s[1] {
	case 'b':
		return '\b', s[2:]
	case 't':
		return '\t', s[2:]
	case 'n':
		return '\n', s[2:]
	case 'f':
		return '\f', s[2:]
	case 'r':
		return '\r', s[2:]
	case 'u':
		r, _ := hex4(s, 2)
		return r, s[6:]
	default: // '"' or '\\'
		return rune(s[1]), s[2:]
	}
}

// secretKeys are the normalised member names whose string values are
// secrets (docs/payload-digest.md): the key lowercased (ASCII), without
// '-' and '_'.
var secretKeys = map[string]bool{
	"clientsecret": true, "secret": true, "password": true, "passwd": true,
	"apikey": true, "apisecret": true, "privatekey": true, "accesstoken": true,
	"refreshtoken": true, "token": true, "authorization": true,
}

// isSecretKey reports whether quoted, a canonical key, names a secret.
func isSecretKey(quoted []byte) bool {
	var buf [24]byte
	n := 0
	for _, c := range quoted[1 : len(quoted)-1] {
		switch {
		case c == '-' || c == '_':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z':
		default:
			return false
		}
		if n == len(buf) {
			return false
		}
		buf[n] = c
		n++
	}
	return secretKeys[string(buf[:n])]
}

// canonicalPool keeps canonicalizers, so that their buffers (bounded by
// maxPooledBytes) are allocated once per goroutine at work, not per value.
var canonicalPool = sync.Pool{New: func() any { return new(canonicalizer) }}

// maxPooledBytes is the most buffer memory a pooled canonicalizer keeps.
const maxPooledBytes = 1 << 20

func getCanonicalizer() *canonicalizer {
	c := canonicalPool.Get().(*canonicalizer)
	c.out, c.in = c.out[:0], c.in[:0]
	return c
}

func putCanonicalizer(c *canonicalizer) {
	c.secret = nil
	if cap(c.out)+cap(c.in)+cap(c.scratch)+cap(c.unq)+12*cap(c.spans) > maxPooledBytes {
		return
	}
	canonicalPool.Put(c)
}

// CheckJSON reports why raw is not one JSON value that has a canonical form
// (docs/payload-digest.md): invalid UTF-8 or JSON, nesting beyond MaxDepth
// (counted from raw itself), a duplicate key or a number beyond a double,
// naming where ("has a duplicate key at a.b[0]"). It returns nil when raw
// has one. It costs time linear in len(raw) and, warm, allocates nothing
// but an error: adapters use it to check provider field values.
func CheckJSON(raw []byte) error {
	c := getCanonicalizer()
	defer putCanonicalizer(c)
	return c.write(raw, 0, false)
}

// checkCanonical reports why raw, one JSON value that scanValue accepted
// at nesting depth depth (its container's), has no canonical form: a
// duplicate key or a number beyond a double, naming where. It returns nil
// when raw has one.
func checkCanonical(raw []byte, depth int) error {
	c := getCanonicalizer()
	defer putCanonicalizer(c)
	return c.write(raw, depth, true)
}

// write appends the canonical form of raw, a JSON value at nesting depth
// depth (its container's), to c.out. Unless valid says scanValue has
// accepted raw already, raw is validated first.
func (c *canonicalizer) write(raw []byte, depth int, valid bool) error {
	i := skipSpace(raw, 0)
	if !valid {
		if !utf8.Valid(raw) {
			return errors.New("is not valid UTF-8")
		}
		end, jerr := scanValue(raw, i, depth)
		if jerr != nil {
			return jerr
		}
		if skipSpace(raw, end) != len(raw) {
			return errors.New("is not a single JSON value")
		}
	}
	if _, err := c.value(raw, i, depth); err != nil {
		return err
	}
	return nil
}
