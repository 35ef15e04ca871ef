package adaptertest

import (
	"regexp"
	"testing"
)

// MatcherAgrees checks that match, a hand-written matcher, accepts exactly
// what pattern (the specification it stands for) accepts: on each edge,
// on the empty string, and on each edge with a NUL, a non-ASCII character,
// an invalid UTF-8 byte, a newline, a space or an ASCII letter or digit
// before, inside or after it.
func MatcherAgrees(t *testing.T, name string, match func(string) bool, pattern *regexp.Regexp, edges []string) {
	t.Helper()
	inputs := []string{"", "\x00", "é", "\xff", "\n"}
	for _, e := range edges {
		inputs = append(inputs, e)
		for _, odd := range []string{"\x00", "é", "\xff", "\n", " ", "0", "a"} {
			inputs = append(inputs, odd+e, e+odd, e[:len(e)/2]+odd+e[len(e)/2:])
		}
	}
	for _, in := range inputs {
		if got, want := match(in), pattern.MatchString(in); got != want {
			t.Errorf("%s(%q) = %v, want %v (%s)", name, in, got, want, pattern)
		}
	}
}

// FuzzMatcher fuzzes match against pattern, seeded with edges.
func FuzzMatcher(f *testing.F, name string, match func(string) bool, pattern *regexp.Regexp, edges []string) {
	f.Add("")
	for _, e := range edges {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := match(s), pattern.MatchString(s); got != want {
			t.Fatalf("%s(%q) = %v, want %v (%s)", name, s, got, want, pattern)
		}
	})
}
