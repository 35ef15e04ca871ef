//go:build race

package testenv

// Race reports whether this test binary was built with the race detector.
const Race = true
