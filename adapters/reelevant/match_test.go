package reelevant

import (
	"regexp"
	"strings"
	"testing"
)

// The specifications of the hand-written matchers of match.go.
var (
	// tokenPattern is RFC 6750's b64token, the syntax of a bearer token.
	tokenPattern = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	// identifierPattern is a key that can follow a dot in a field path.
	identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

type matcher struct {
	name  string
	re    *regexp.Regexp
	fn    func(string) bool
	edges []string
}

func matchers() []matcher {
	return []matcher{
		{"resource", ResourcePattern, validResourceID, []string{testID, strings.ToUpper(testID), testID[1:], testID + "0", "65a7d77142a7e12453052d5g", strings.Repeat("0", 24)}},
		{"token", tokenPattern, validToken, []string{testToken, "a", "a=", "a==", "=", "=a", "a=b", "A-._~+/9", "Bearer a", "a b", "a\n"}},
		{"url", URLPattern, validURL, []string{
			"https://idp.example.com/token", "http://a", "http://ab", "https://a b", "https://a\u00a0b", "https://a\u2000", "https://a\u200a", "https://a\u200b",
			"https:// a", "https://.a", "https://$a", "https://?a", "https://#a", "https://a\n", "https://a\nb", "https://\u2028a", "https://a\u2029",
			"ftp://a", "https:/a", "HTTP://a", "https://a\x85b", "https://a\ufeff", "https://a\u3000", "https://a\u205f", "https://a\v", "http://\xffa", "http://a\xff",
		}},
		{"identifier", identifierPattern, isIdentifier, []string{"a", "_", "_1", "1a", "tokenUrl", "a" + strings.Repeat("b", 63), "a" + strings.Repeat("b", 64), "a-b", "a.b"}},
	}
}

// TestMatchers checks each matcher against its regexp on the edges: each
// edge, empty, and with a NUL, a non-ASCII character or an invalid UTF-8
// byte before, inside or after it.
func TestMatchers(t *testing.T) {
	for _, m := range matchers() {
		inputs := []string{"", "\x00", "é", "\xff"}
		for _, e := range m.edges {
			inputs = append(inputs, e)
			for _, odd := range []string{"\x00", "é", "\xff", "\n", " ", "="} {
				inputs = append(inputs, odd+e, e+odd, e[:len(e)/2]+odd+e[len(e)/2:])
			}
		}
		for _, in := range inputs {
			if got, want := m.fn(in), m.re.MatchString(in); got != want {
				t.Errorf("%s(%q) = %v, want %v (%s)", m.name, in, got, want, m.re)
			}
		}
	}
}

func fuzzMatcher(f *testing.F, name string) {
	for _, m := range matchers() {
		if m.name != name {
			continue
		}
		for _, e := range append(m.edges, "") {
			f.Add(e)
		}
		f.Fuzz(func(t *testing.T, s string) {
			if got, want := m.fn(s), m.re.MatchString(s); got != want {
				t.Fatalf("%s(%q) = %v, want %v (%s)", m.name, s, got, want, m.re)
			}
		})
		return
	}
	f.Fatalf("no matcher %s", name)
}

func FuzzMatchResource(f *testing.F)   { fuzzMatcher(f, "resource") }
func FuzzMatchToken(f *testing.F)      { fuzzMatcher(f, "token") }
func FuzzMatchIdentifier(f *testing.F) { fuzzMatcher(f, "identifier") }
func FuzzMatchURL(f *testing.F)        { fuzzMatcher(f, "url") }
