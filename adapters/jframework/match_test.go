package jframework

import (
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters/adaptertest"
)

// resourceEdges are inputs at the edges of ResourcePattern.
var resourceEdges = []string{"sApKpllz4sAplsmzha", "Kd12AnplKdMd5s", "a", "_-", strings.Repeat("a", 128), strings.Repeat("a", 129), "a.b", "a/b", ".."}

// TestMatchResource checks validResourceID against ResourcePattern on and
// around the edges.
func TestMatchResource(t *testing.T) {
	adaptertest.MatcherAgrees(t, "validResourceID", validResourceID, ResourcePattern, resourceEdges)
}

// FuzzMatchResource: validResourceID agrees with ResourcePattern.
func FuzzMatchResource(f *testing.F) {
	adaptertest.FuzzMatcher(f, "validResourceID", validResourceID, ResourcePattern, resourceEdges)
}
