package rocketchat

import (
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters/adaptertest"
)

// resourceEdges are inputs at the edges of ResourcePattern.
var resourceEdges = []string{"65a7d77142a7e12453052d59", "aBcDeFgHiJkLmNoPq", "aBcDeFgHiJkLmNoP", strings.Repeat("z", 24), strings.Repeat("z", 25), "aBcDeFgHiJkLmNoP_", "aBcDeFgHiJkLmNoP-q"}

// TestMatchResource checks validResourceID against ResourcePattern on and
// around the edges.
func TestMatchResource(t *testing.T) {
	adaptertest.MatcherAgrees(t, "validResourceID", validResourceID, ResourcePattern, resourceEdges)
}

// FuzzMatchResource: validResourceID agrees with ResourcePattern.
func FuzzMatchResource(f *testing.F) {
	adaptertest.FuzzMatcher(f, "validResourceID", validResourceID, ResourcePattern, resourceEdges)
}
