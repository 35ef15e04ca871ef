package messages

import (
	"cmp"
	"strconv"
	"time"
)

// OrderKey is a command's position in its resource's order
// (docs/CONTRACT.md §3): Key is data.sequence when the command sets it, else
// the time JetStream stored the command, in Unix milliseconds; Seq is the
// command's stream sequence, which breaks ties. Positions compare
// lexicographically (Compare): the higher Key wins, and between equal keys
// the higher Seq.
//
// A position recorded before this rule (a single integer: data.sequence or
// a stream sequence) reads as Key with Seq 0, so it loses a tie against any
// command stored since.
type OrderKey struct {
	Key int64  `json:"key"`
	Seq uint64 `json:"seq"`
}

// Compare returns -1, 0 or +1 as k orders before, with or after o.
func (k OrderKey) Compare(o OrderKey) int {
	if c := cmp.Compare(k.Key, o.Key); c != 0 {
		return c
	}
	return cmp.Compare(k.Seq, o.Seq)
}

// String returns "key/seq", e.g. "1732269600000/42".
func (k OrderKey) String() string {
	return strconv.FormatInt(k.Key, 10) + "/" + strconv.FormatUint(k.Seq, 10)
}

// OrderKey returns the command's position in its resource's order
// (docs/CONTRACT.md §3): its data.sequence when set, else stored, the time
// JetStream stored the command, in Unix milliseconds; with streamSeq, its
// stream sequence, to break ties. For a replayed dead letter, stored and
// streamSeq are those of the original command, so that the replay keeps its
// place.
func (c *Command) OrderKey(stored time.Time, streamSeq uint64) OrderKey {
	if c.Data.Sequence != nil {
		return OrderKey{Key: *c.Data.Sequence, Seq: streamSeq}
	}
	return OrderKey{Key: stored.UnixMilli(), Seq: streamSeq}
}
