//go:build !race

package messages_test

const raceEnabled = false
