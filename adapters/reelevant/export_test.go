package reelevant

import (
	"testing"
	"time"
)

// SetTokenClock makes the adapters New builds during the test read now and
// allow a token request every millisecond.
func SetTokenClock(t testing.TB, now func() time.Time) {
	old := tokenOptions
	tokenOptions.Now, tokenOptions.MinInterval = now, time.Millisecond
	t.Cleanup(func() { tokenOptions = old })
}
