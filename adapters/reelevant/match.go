package reelevant

import (
	"strings"
	"unicode/utf8"
)

// Hand-written matchers of the patterns checked per update: each must
// match exactly what its regexp matches (match_test.go fuzzes one against
// the other). The patterns are anchored and ASCII-only, so a byte loop
// implements them: no byte of a multi-byte character is in any class.

// validResourceID matches ResourcePattern: 24 hex digits.
func validResourceID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// validToken reports whether s is RFC 6750's b64token, the syntax of a
// bearer token: ^[A-Za-z0-9\-._~+/]+=*$ (tokenPattern in match_test.go).
func validToken(s string) bool {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// isIdentifier reports whether s is a key that can follow a dot in a field
// path: ^[A-Za-z_][A-Za-z0-9_]{0,63}$ (identifierPattern in match_test.go).
func isIdentifier(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validURL reports whether s matches URLPattern: http:// or https://, a
// character that is not ECMAScript white space nor one of $.?#, a
// character that is not a line terminator, then characters that are not
// white space but for U+0020. (Invalid UTF-8 decodes to U+FFFD, as in the
// regexp, which no class excludes.)
func validURL(s string) bool {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "http://"); !ok {
			return false
		}
	}
	r, n := utf8.DecodeRuneInString(rest)
	if n == 0 || isECMASpace(r) || r == '$' || r == '.' || r == '?' || r == '#' {
		return false
	}
	rest = rest[n:]
	r, n = utf8.DecodeRuneInString(rest)
	if n == 0 || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' {
		return false
	}
	for _, r := range rest[n:] {
		if r != ' ' && isECMASpace(r) {
			return false
		}
	}
	return true
}

// isECMASpace reports whether r is in ecmaSpace, ECMAScript's \s.
func isECMASpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u1680', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff':
		return true
	}
	return r >= '\u2000' && r <= '\u200a'
}
