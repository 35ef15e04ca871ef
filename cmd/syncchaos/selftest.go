package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// The self-test: a small clean history that must pass, and one copy of it
// per violation kind with that violation planted, which must fail with it.
// The Go test runs the same cases; "syncchaos -self-test" runs them on the
// built binary.

const selfMarker = "cnryselftest"

// cleanInput is a run in which everything went right: on r0, A (key 100)
// then B (key 200) set clientId, A's first write lost its answer and was
// sent again; on r1, C (no data.sequence) set clientId; A's id was reused
// with another payload, refused; Redis came back empty and the worker said
// so.
func cleanInput() *Input {
	seq := func(v int64) *int64 { return &v }
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	in := &Input{
		Commands: []Command{
			{ID: "A", Resource: "r0", Sequence: seq(100), Fields: map[string]string{"clientId": "a", "clientSecret": selfMarker + "-a", "tokenUrl": "https://t/a"}},
			{ID: "B", Resource: "r0", Sequence: seq(200), Fields: map[string]string{"clientId": "b", "clientSecret": selfMarker + "-b"}},
			{ID: "C", Resource: "r1", Fields: map[string]string{"clientId": "c", "clientSecret": selfMarker + "-c"}},
			{ID: "D", Resource: "r0", Sequence: seq(150), Fields: map[string]string{"clientId": "d", "clientSecret": selfMarker + "-d"}},
			{ID: "A", Resource: "r0", Sequence: seq(100), Reuse: true, Fields: map[string]string{"clientId": "a2", "clientSecret": selfMarker + "-a2"}},
			// r2 is a full-replace resource (read, merge, PUT the whole).
			{ID: "F", Resource: "r2", Sequence: seq(100), Fields: map[string]string{"name": "f", "clientSecret": selfMarker + "-f"}},
			{ID: "G", Resource: "r2", Sequence: seq(200), Fields: map[string]string{"clientId": "g", "clientSecret": selfMarker + "-g"}},
		},
		Copies: []StoredCopy{
			{ID: "A", Seq: 1, Stored: t0}, {ID: "B", Seq: 2, Stored: t0}, {ID: "C", Seq: 3, Stored: t0.Add(time.Second)},
			{ID: "D", Seq: 4, Stored: t0.Add(2 * time.Second)}, {ID: "A", Seq: 5, Stored: t0.Add(3 * time.Second), Reuse: true},
			{ID: "C", Seq: 6, Stored: t0.Add(4 * time.Second)}, // a late duplicate
			{ID: "F", Seq: 8, Stored: t0.Add(5 * time.Second)}, {ID: "G", Seq: 9, Stored: t0.Add(6 * time.Second)},
		},
		Writes: []Write{
			{Resource: "r0", Fields: map[string]string{"clientId": "a", "clientSecret": selfMarker + "-a", "tokenUrl": "https://t/a"}, Lost: true},
			{Resource: "r0", Fields: map[string]string{"clientId": "a", "clientSecret": selfMarker + "-a", "tokenUrl": "https://t/a"}},
			{Resource: "r0", Fields: map[string]string{"clientId": "b", "clientSecret": selfMarker + "-b"}},
			{Resource: "r1", Fields: map[string]string{"clientId": "c", "clientSecret": selfMarker + "-c"}},
			{Resource: "r2", Full: true, Fields: map[string]string{"name": "f", "clientId": "seed2c", "clientSecret": selfMarker + "-f", "dataStore": "54"}},
			{Resource: "r2", Full: true, Fields: map[string]string{"name": "f", "clientId": "g", "clientSecret": selfMarker + "-g", "dataStore": "54"}},
		},
		Results: []ResultMsg{
			{EventID: "result-A", CommandID: "A", Status: "applied", Applied: []string{"clientId"}},
			{EventID: "result-B", CommandID: "B", Status: "applied", Applied: []string{"clientId"}},
			{EventID: "result-C", CommandID: "C", Status: "applied", Applied: []string{"clientId"}},
			{EventID: "result-D", CommandID: "D", Status: "superseded"},
			{EventID: "result-A-conflict-0123456789abcdef", CommandID: "A", Status: "rejected", ErrorCode: "id_conflict"},
			{EventID: "result-C", CommandID: "C", Status: "applied", Applied: []string{"clientId"}}, // the duplicate's republished result
			{EventID: "result-F", CommandID: "F", Status: "applied", Applied: []string{"name", "clientSecret"}},
			{EventID: "result-G", CommandID: "G", Status: "applied", Applied: []string{"clientId", "clientSecret"}},
			{EventID: "result-U", CommandID: "U", Status: "rejected", ErrorCode: "unknown_connection"},
		},
		// U was published for a connection no worker serves.
		Unrouted: []string{"U"},
		Seed: map[string]map[string]string{
			"r0": {"clientId": "seed0", "tokenUrl": "https://t/seed"},
			"r1": {"clientId": "seed1"},
			"r2": {"name": "seed2n", "clientId": "seed2c", "clientSecret": "seed2s"},
		},
		Final: map[string]map[string]string{
			"r0": {"clientId": "b", "clientSecret": selfMarker + "-b", "tokenUrl": "https://t/a"},
			"r1": {"clientId": "c", "clientSecret": selfMarker + "-c"},
			"r2": {"name": "f", "clientId": "g", "clientSecret": selfMarker + "-g"},
		},
		Marker: selfMarker,
		Plan:   Plan{Kills: 1, NATSRestarts: 1, RedisRestarts: 1, RedisEmptied: true, FaultRate: 0.3, LostRate: 0.02, MaxRSSKiB: 256 << 10},
		Events: Events{Kills: 2, NATSRestarts: 1, RedisRestarts: 1, RedisEmptied: 1, Faults: 3, LostAnswers: 1, Requests: 8,
			PeakRSS: []int64{40 << 10, 42 << 10}, RSSSamples: 20, ScannedBytes: 4096, EmptySerial: 1000,
			Readyz: []string{"503: dedup store lost its state", "503: dedup store lost its state"}, FailClosed: []bool{true, true}},
	}
	renumber(in)
	return in
}

// renumber gives the writes their serials in list order, a millisecond apart.
func renumber(in *Input) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for i := range in.Writes {
		in.Writes[i].Serial = i + 1
		in.Writes[i].Time = t0.Add(time.Duration(i) * time.Millisecond)
	}
}

type selfCase struct {
	name   string
	want   string // the violation kind the case plants; "" for the clean run
	mutate func(in *Input)
}

func findSelfLeak(source, text string) []Leak {
	if form := NewSecretScanner(selfMarker).Find([]byte(text)); form != "" {
		return []Leak{{Source: source, Form: form}}
	}
	return nil
}

// diedWithTheAnswer makes worker 1 write C at t, be killed at t+2s, and
// C written again by worker 0; C's results are stored at t+result.
func diedWithTheAnswer(in *Input, result time.Duration) {
	t := in.Copies[0].Stored.Add(time.Minute)
	for i, w := range in.Writes {
		if w.Resource == "r1" {
			in.Writes[i].Worker, in.Writes[i].Time = 1, t
		}
	}
	in.Writes = append(in.Writes, Write{Resource: "r1", Worker: 0, Time: t.Add(3 * time.Second),
		Fields: map[string]string{"clientId": "c", "clientSecret": selfMarker + "-c"}})
	renumber(in)
	in.Events.KillLog = []Kill{{Worker: 0, Time: t.Add(-time.Second)}, {Worker: 1, Time: t.Add(2 * time.Second)}}
	for i, m := range in.Results {
		if m.CommandID == "C" {
			in.Results[i].Time = t.Add(result)
		}
	}
}

func insertWrite(in *Input, at int, w Write) {
	in.Writes = slices.Insert(in.Writes, at, w)
	renumber(in)
}

var selfCases = []selfCase{
	{"clean history", "", func(*Input) {}},
	{"a command without a result", VMissingResult, func(in *Input) {
		in.Results = slices.DeleteFunc(in.Results, func(m ResultMsg) bool { return m.CommandID == "D" })
	}},
	{"an unserved connection's command without a result", VMissingResult, func(in *Input) {
		in.Results = slices.DeleteFunc(in.Results, func(m ResultMsg) bool { return m.CommandID == "U" })
	}},
	{"an unserved connection's command answered otherwise", VUnroutedAnswer, func(in *Input) {
		for i, m := range in.Results {
			if m.CommandID == "U" {
				in.Results[i].Status, in.Results[i].ErrorCode = "failed", "provider_unavailable"
			}
		}
	}},
	{"a second, different result for one id", VMultipleResults, func(in *Input) {
		in.Results = append(in.Results, ResultMsg{EventID: "result-C", CommandID: "C", Status: "superseded"})
	}},
	{"a second result event id for one id", VMultipleResults, func(in *Input) {
		in.Results = append(in.Results, ResultMsg{EventID: "result-C-again", CommandID: "C", Status: "applied"})
	}},
	{"a reused id's payload written", VReusedWritten, func(in *Input) {
		insertWrite(in, 2, Write{Resource: "r0", Fields: map[string]string{"clientId": "a2", "clientSecret": selfMarker + "-a2"}})
	}},
	{"a command written twice without a lost answer", VDoubleWrite, func(in *Input) {
		in.Writes = append(in.Writes, Write{Resource: "r1", Fields: map[string]string{"clientId": "c", "clientSecret": selfMarker + "-c"}})
		renumber(in)
	}},
	{"a command written again after its worker died with the answer", "", func(in *Input) {
		diedWithTheAnswer(in, 3*time.Second)
	}},
	{"a command written again although its worker stored the result before it died", VDoubleWrite, func(in *Input) {
		diedWithTheAnswer(in, time.Second)
	}},
	{"a lower order key overwrites a field, then the higher one is restored", VRegression, func(in *Input) {
		// D (150) lands after B (200); nothing in the end state shows it.
		insertWrite(in, 3, Write{Resource: "r0", Fields: map[string]string{"clientId": "d"}})
		in.Writes = slices.Insert(in.Writes, 4, Write{Resource: "r0", Fields: map[string]string{"clientId": "b"}})
		renumber(in)
	}},
	{"a regression between commands without data.sequence (stored time)", VRegression, func(in *Input) {
		in.Commands = append(in.Commands, Command{ID: "E", Resource: "r1", Fields: map[string]string{"clientId": "e"}})
		in.Copies = append(in.Copies, StoredCopy{ID: "E", Seq: 7, Stored: in.Copies[2].Stored.Add(-time.Second)})
		in.Results = append(in.Results, ResultMsg{EventID: "result-E", CommandID: "E", Status: "applied", Applied: []string{"clientId"}})
		in.Writes = append(in.Writes, Write{Resource: "r1", Fields: map[string]string{"clientId": "e"}})
		renumber(in)
		in.Final["r1"]["clientId"] = "e"
	}},
	{"full replacement: a stale read writes older values back", VRegression, func(in *Input) {
		in.Writes = append(in.Writes, Write{Resource: "r2", Full: true, Fields: map[string]string{"name": "f", "clientId": "seed2c", "clientSecret": selfMarker + "-f"}})
		renumber(in)
	}},
	{"full replacement: a value no command carries", VForeignWrite, func(in *Input) {
		in.Writes = append(in.Writes, Write{Resource: "r2", Full: true, Fields: map[string]string{"name": "zzz", "clientId": "g", "clientSecret": selfMarker + "-g"}})
		renumber(in)
	}},
	{"full replacement: a reused id's value", VReusedWritten, func(in *Input) {
		in.Commands = append(in.Commands, Command{ID: "G", Resource: "r2", Reuse: true, Fields: map[string]string{"clientId": "g2"}})
		in.Writes = append(in.Writes, Write{Resource: "r2", Full: true, Fields: map[string]string{"name": "f", "clientId": "g2", "clientSecret": selfMarker + "-g"}})
		renumber(in)
	}},
	{"a write of values no command carries", VForeignWrite, func(in *Input) {
		in.Writes = append(in.Writes, Write{Resource: "r1", Fields: map[string]string{"clientId": "zzz"}})
		renumber(in)
	}},
	{"a write that mixes two commands' values", VForeignWrite, func(in *Input) {
		in.Writes[3].Fields = map[string]string{"clientId": "c", "clientSecret": selfMarker + "-b"}
	}},
	{"the provider's end state differs from the model", VFinalState, func(in *Input) {
		in.Final["r1"]["clientId"] = "seed1"
	}},
	{"an applied result whose values never reached the provider", VAppliedNoWrite, func(in *Input) {
		in.Writes = in.Writes[:3]
		in.Final["r1"]["clientId"] = "c" // the end state alone would not show it
	}},
	{"a write that landed under a superseded result", VWriteNotApplied, func(in *Input) {
		in.Results[2].Status = "superseded"
		in.Results[5].Status = "superseded"
	}},
	{"a canary secret, upper-cased, in a log", VSecretLeak, func(in *Input) {
		in.Leaks = findSelfLeak("log worker-0.log", `{"msg":"provider said: bad secret `+strings.ToUpper(selfMarker+"-b")+`"}`)
	}},
	{"a canary secret, base64-encoded, in a result", VSecretLeak, func(in *Input) {
		in.Leaks = findSelfLeak("result result-B", `{"error":{"message":"Basic `+base64.StdEncoding.EncodeToString([]byte("id:"+selfMarker+"-b"))+`"}}`)
	}},
	{"a superseded result whose fields no higher key wrote", VWronglySkipped, func(in *Input) {
		*in.Commands[3].Sequence = 250
	}},
	{"a skipped field no higher key wrote", VWronglySkipped, func(in *Input) {
		in.Results[0].Skipped = []string{"tokenUrl"}
	}},
	{"a reused id written after Redis came back empty", storeLoss + VReusedWritten, func(in *Input) {
		in.Writes = append(in.Writes, Write{Resource: "r0", Fields: map[string]string{"clientId": "a2"}})
		renumber(in)
		in.Events.EmptySerial = len(in.Writes)
		in.Final["r0"]["clientId"] = "a2"
	}},
	{"a worker above its memory limit", VMemory, func(in *Input) { in.Events.PeakRSS[1] = 300 << 10 }},
	{"a worker still ready after Redis came back empty", VStoreLossUnnoted, func(in *Input) {
		in.Events.FailClosed[0], in.Events.Readyz[0] = false, "200: ok"
	}},
	{"a write after Redis came back empty", VWriteAfterLoss, func(in *Input) { in.Events.EmptySerial = 4 }},
	{"a command missing from the commands stream", VUnknownOrderKey, func(in *Input) {
		in.Copies = slices.DeleteFunc(in.Copies, func(c StoredCopy) bool { return c.ID == "C" })
	}},
	{"no kill happened", VImplausible, func(in *Input) { in.Events.Kills = 0 }},
	{"the NATS restart did not happen", VImplausible, func(in *Input) { in.Events.NATSRestarts = 0 }},
	{"the Redis restart did not happen", VImplausible, func(in *Input) { in.Events.RedisRestarts = 0 }},
	{"no writes recorded", VImplausible, func(in *Input) {
		in.Writes, in.Events.LostAnswers = nil, 0
		in.Final = map[string]map[string]string{"r0": {"clientId": "seed0", "tokenUrl": "https://t/seed"}, "r1": {"clientId": "seed1"}}
		for i := range in.Results {
			in.Results[i].Applied = nil
		}
	}},
	{"a lost answer the history does not show", VImplausible, func(in *Input) { in.Writes[0].Lost = false; in.Writes = in.Writes[1:]; renumber(in) }},
	{"nothing scanned for secrets", VImplausible, func(in *Input) { in.Events.ScannedBytes = 0 }},
}

// runSelfTest runs every case and prints one line each; 0 when the checker
// caught every planted violation and passed the clean history.
func runSelfTest(w io.Writer) int {
	failed := 0
	for _, c := range selfCases {
		if err := c.run(); err != nil {
			failed++
			fmt.Fprintf(w, "FAIL %s: %v\n", c.name, err)
			continue
		}
		fmt.Fprintf(w, "ok   %s\n", c.name)
	}
	if failed > 0 {
		fmt.Fprintf(w, "syncchaos: self-test FAIL: %d of %d cases\n", failed, len(selfCases))
		return 1
	}
	fmt.Fprintf(w, "syncchaos: self-test PASS: %d cases\n", len(selfCases))
	return 0
}

func (c selfCase) run() error {
	in := cleanInput()
	c.mutate(in)
	rep := Check(in)
	if c.want == "" {
		if !rep.Pass() {
			return fmt.Errorf("the clean history fails: %s\n%s", rep.Summary(), rep.Details())
		}
		return nil
	}
	if rep.Totals[c.want] == 0 {
		return fmt.Errorf("%s not caught: %s", c.want, rep.Summary())
	}
	if !strings.HasPrefix(rep.Summary(), "syncchaos: FAIL") {
		return fmt.Errorf("summary does not say FAIL: %s", rep.Summary())
	}
	return nil
}
