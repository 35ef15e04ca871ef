package rocketchat

import (
	"strings"
	"testing"
)

// resourceEdges are inputs at the edges of ResourcePattern.
var resourceEdges = []string{"65a7d77142a7e12453052d59", "aBcDeFgHiJkLmNoPq", "aBcDeFgHiJkLmNoP", strings.Repeat("z", 24), strings.Repeat("z", 25), "aBcDeFgHiJkLmNoP_", "aBcDeFgHiJkLmNoP-q"}

// TestMatchResource checks validResourceID against ResourcePattern on the edges:
// each edge, empty, and with a NUL, a non-ASCII character, an invalid
// UTF-8 byte or a newline before, inside or after it.
func TestMatchResource(t *testing.T) {
	inputs := []string{"", "\x00", "é", "\xff", "\n"}
	for _, e := range resourceEdges {
		inputs = append(inputs, e)
		for _, odd := range []string{"\x00", "é", "\xff", "\n", " ", "0", "a"} {
			inputs = append(inputs, odd+e, e+odd, e[:len(e)/2]+odd+e[len(e)/2:])
		}
	}
	for _, in := range inputs {
		if got, want := validResourceID(in), ResourcePattern.MatchString(in); got != want {
			t.Errorf("validResourceID(%q) = %v, want %v (%s)", in, got, want, ResourcePattern)
		}
	}
}

// FuzzMatchResource: validResourceID agrees with ResourcePattern.
func FuzzMatchResource(f *testing.F) {
	f.Add("")
	for _, e := range resourceEdges {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validResourceID(s), ResourcePattern.MatchString(s); got != want {
			t.Fatalf("validResourceID(%q) = %v, want %v (%s)", s, got, want, ResourcePattern)
		}
	})
}
