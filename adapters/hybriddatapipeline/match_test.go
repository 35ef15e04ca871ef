package hybriddatapipeline

import (
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters/adaptertest"
)

// resourceEdges are inputs at the edges of ResourcePattern.
var resourceEdges = []string{"93", "1", "0", "01", "-1", "+1", strings.Repeat("9", 18), strings.Repeat("9", 19), "1" + strings.Repeat("0", 17), "1e3", "١٢"}

// TestMatchResource checks validResourceID against ResourcePattern on and
// around the edges.
func TestMatchResource(t *testing.T) {
	adaptertest.MatcherAgrees(t, "validResourceID", validResourceID, ResourcePattern, resourceEdges)
}

// FuzzMatchResource: validResourceID agrees with ResourcePattern.
func FuzzMatchResource(f *testing.F) {
	adaptertest.FuzzMatcher(f, "validResourceID", validResourceID, ResourcePattern, resourceEdges)
}
