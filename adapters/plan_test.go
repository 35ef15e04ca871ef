package adapters_test

import (
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
)

func TestFieldStateString(t *testing.T) {
	for s, want := range map[adapters.FieldState]string{
		adapters.FieldChanged: "changed", adapters.FieldUnchanged: "unchanged", adapters.FieldUnknown: "unknown",
		0: "FieldState(0)", 9: "FieldState(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("FieldState(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
