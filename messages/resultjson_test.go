package messages

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// encodingJSON is the reference appendResultEvent is held to: what
// encoding/json writes for the event, HTML escaping off.
func encodingJSON(ev *ResultEvent) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fuzzEvent builds an event whose every string and number comes from the
// fuzzer (no validation: the encoder must match on anything).
func fuzzEvent(s1, s2, s3 string, n int64, u uint64, flags uint8) *ResultEvent {
	at := time.Unix(n%(1<<34), n%1_000_000_000).In(time.FixedZone("z", int(n%50_000)))
	ev := &ResultEvent{SpecVersion: s1, ID: s2, Source: s3, Type: s2 + s1, Time: at, DataContentType: s3,
		Data: Result{CommandID: s1, Connection: s2, Provider: s3, Resource: s1 + s3, Status: Status(s2),
			Attempts: int(n), Deliveries: int(n >> 3), CommandStreamSequence: u, StartedAt: at.Add(-time.Duration(n % 1e9)), FinishedAt: at}}
	if flags&1 != 0 {
		ev.Subject = s3
		ev.Data.Batch = s2
		ev.Data.PayloadDigest = s1
	}
	if flags&2 != 0 {
		ev.Data.AppliedFields = []string{s1, s3}
		ev.Data.SkippedFields = []string{}
	}
	if flags&4 != 0 {
		ev.Data.SkippedOrderKeys = map[string]int64{s1: n, s2: -n, s3 + "x": int64(u)}
	}
	if flags&8 != 0 {
		ev.Data.Error = &ResultError{Code: ErrorCode(s3), Message: s1 + s2, HTTPStatus: int(n % 600), Retryable: flags&16 != 0}
	}
	return ev
}

func FuzzResultEventEncodesAsEncodingJSON(f *testing.F) {
	f.Add("1.0", "result-cmd-1", "/syncworker/a", int64(1767225600), uint64(42), uint8(0))
	f.Add("a\"b\\c\n\t\b\f\x01\x7f", "<&>\u2028\u2029", "\xff\xfeé😀", int64(-5), uint64(1<<63), uint8(31))
	f.Add("", "", "", int64(0), uint64(0), uint8(14))
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, n int64, u uint64, flags uint8) {
		ev := fuzzEvent(s1, s2, s3, n, u, flags)
		want, werr := encodingJSON(ev)
		got, gerr := appendResultEvent(nil, ev)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("encoding/json error %v, appendResultEvent error %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("appendResultEvent wrote\n%s\nencoding/json\n%s", got, want)
		}
	})
}

func TestResultEventEncodesAsEncodingJSON(t *testing.T) {
	started := time.Date(2026, 12, 3, 7, 0, 0, 123456789, time.UTC)
	for _, ev := range []*ResultEvent{
		fuzzEvent("1.0", "result-c", "/s", 1767225600, 7, 0),
		fuzzEvent("x", "y", "z", 99, 1, 31),
		{SpecVersion: SpecVersion, ID: "result-c", Source: "/syncworker/w", Type: ResultType, Time: started, DataContentType: DataContentType,
			Data: Result{CommandID: "c", Connection: "rc", Provider: "rocketchat", Resource: "r", Status: StatusApplied,
				AppliedFields: []string{"name"}, SkippedFields: []string{}, StartedAt: started, FinishedAt: started}},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // refused by both
	} {
		want, werr := encodingJSON(ev)
		got, gerr := appendResultEvent(nil, ev)
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Errorf("appendResultEvent: %s (%v)\nencoding/json:       %s (%v)", got, gerr, want, werr)
		}
	}
}
