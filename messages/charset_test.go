package messages

import (
	"regexp"
	"strings"
	"testing"
)

// matchers pairs each byte-by-byte matcher with the regular expression it
// stands for.
var matchers = []struct {
	name    string
	pattern *regexp.Regexp
	match   func(string) bool
}{
	{"command id", idPattern, ValidCommandID},
	{"connection", connectionPattern, ValidConnection},
	{"resource", resourcePattern, ValidResource},
	{"provider field", providerFieldPattern, isProviderField},
	{"identifier", identifierPattern, isIdentifier},
	{"provider name", providerNamePattern, isProviderName},
	{"result field", resultFieldPattern, isResultField},
	{"payload digest", payloadDigestPattern, isPayloadDigest},
	{"conflict suffix", conflictSuffixPattern, isConflictSuffix},
	{"replay suffix", replaySuffixPattern, isReplaySuffix},
}

func TestMatchersAgreeWithTheirPatterns(t *testing.T) {
	inputs := []string{
		"", "a", "A", "0", "_", "-", ".", ":", "a-b", "a.b", "a:b", "a b", "a\n", "\na", "é", "aé",
		"\x00", "a\x00", "Z9_-", "name", "names", "clientSecret", "providerFields.", "providerFields.x",
		"providerFields.9x", "providerFields._x", "providerFields.x.y", "sha256:", "sha256:" + strings.Repeat("a", 64),
		"sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("0", 63), "sha256:" + strings.Repeat("f", 65),
		"-conflict-0123456789abcdef", "-conflict-0123456789ABCDEF", "-conflict-0123456789abcde",
		"-replay-1", "-replay-", "-replay-" + strings.Repeat("9", 20), "-replay-" + strings.Repeat("9", 21),
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129),
		strings.Repeat("é", 64), "_a", "a_", "65a7d77142a7e12453052d59",
	}
	for _, m := range matchers {
		for _, s := range inputs {
			if got, want := m.match(s), m.pattern.MatchString(s); got != want {
				t.Errorf("%s %q: matcher says %v, %s says %v", m.name, s, got, m.pattern, want)
			}
		}
	}
}

func FuzzMatchersAgreeWithTheirPatterns(f *testing.F) {
	for _, s := range []string{"", "a-b.c:d", "providerFields.abc", "sha256:" + strings.Repeat("0", 64), "-replay-42", "-conflict-00ff00ff00ff00ff", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range matchers {
			if got, want := m.match(s), m.pattern.MatchString(s); got != want {
				t.Fatalf("%s %q: matcher says %v, %s says %v", m.name, s, got, m.pattern, want)
			}
		}
	})
}
