package messages_test

import (
	"math"
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

func TestOrderKeyCompare(t *testing.T) {
	k := func(key int64, seq uint64) messages.OrderKey { return messages.OrderKey{Key: key, Seq: seq} }
	tests := []struct {
		name string
		a, b messages.OrderKey
		want int
	}{
		{"higher key wins", k(2, 1), k(1, 9), 1},
		{"lower key loses", k(1, 9), k(2, 1), -1},
		{"equal key: higher stream sequence wins", k(5, 8), k(5, 7), 1},
		{"equal key: lower stream sequence loses", k(5, 7), k(5, 8), -1},
		{"equal", k(5, 7), k(5, 7), 0},
		{"negative keys", k(-2, 9), k(-1, 0), -1},
		{"extremes", k(math.MaxInt64, 0), k(math.MinInt64, math.MaxUint64), 1},
		{"sequences above 2^63", k(0, math.MaxUint64), k(0, math.MaxUint64-1), 1},
		{"a single-int key of old (Seq 0) loses a tie", k(1732269600000, 0), k(1732269600000, 3), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := tt.b.Compare(tt.a); got != -tt.want {
				t.Errorf("%v.Compare(%v) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}
