package kvdedup

import (
	"encoding/json"
	"maps"
	"testing"
)

// A lease record round-trips, and one written before a resource could be
// held for several commands reads its single hold as its lease owner's.
func TestLeaseRecordJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want leaseRecord
	}{
		{`{}`, leaseRecord{}},
		{`{"o":"o1","x":5,"h":{"c1":{"o":"o1","u":9},"c2":{"o":"o2","u":7}}}`,
			leaseRecord{Owner: "o1", Expires: 5, Holds: holds{"c1": {Owner: "o1", Until: 9}, "c2": {Owner: "o2", Until: 7}}}},
		{`{"o":"o1","x":5,"c":"c1","y":9}`, leaseRecord{Owner: "o1", Expires: 5, Holds: holds{"c1": {Owner: "o1", Until: 9}}}},
	} {
		var got leaseRecord
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
			t.Fatalf("decode %s: %v", tc.in, err)
		}
		if got.Owner != tc.want.Owner || got.Expires != tc.want.Expires || !maps.Equal(got.Holds, tc.want.Holds) {
			t.Fatalf("decode %s = %+v, want %+v", tc.in, got, tc.want)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var again leaseRecord
		if err := json.Unmarshal(b, &again); err != nil || again.Owner != got.Owner || again.Expires != got.Expires || !maps.Equal(again.Holds, got.Holds) {
			t.Fatalf("round trip of %s: %s decodes to %+v, %v", tc.in, b, again, err)
		}
	}
}
