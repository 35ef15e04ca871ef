//go:build race

package messages_test

// raceEnabled: the race detector allocates for its own bookkeeping and
// makes sync.Pool drop items at random, so allocation bounds do not hold.
const raceEnabled = true
