package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Planting checks the checker on a run's own data: each violation kind is
// planted into a copy of what the run recorded, and the checker must report
// that very violation (found by a text only it has: its command, its write
// serial, its planted value). A run whose checker
// misses a planted violation fails (implausible_run), so a verdict cannot
// pass because the checker went blind on this run's data.

// plantKinds are the kinds planted into every run's data.
var plantKinds = []string{VMissingResult, VMultipleResults, VDoubleWrite, VRegression, VReusedWritten, VForeignWrite,
	VFinalState, VSecretLeak, VWriteAfterLoss, VImplausible}

// plant returns a copy of in with one violation of kind planted, and a text
// that the checker's report of it contains (a write serial ends the text
// when it ends in "#"+digits); false when the data has no place for it
// (e.g. no reused id was published).
func plant(in *Input, kind string) (*Input, string, bool) {
	out := *in
	out.Writes = slices.Clone(in.Writes)
	slices.SortFunc(out.Writes, func(a, b Write) int { return a.Serial - b.Serial })
	out.Results = slices.Clone(in.Results)
	out.Leaks = slices.Clone(in.Leaks)
	out.Events.FailClosed = slices.Clone(in.Events.FailClosed)
	x := newIndex(in)
	phase1 := len(out.Writes) // writes before the store loss: [0, phase1)
	if in.Events.EmptySerial > 0 {
		phase1 = 0
		for phase1 < len(out.Writes) && out.Writes[phase1].Serial < in.Events.EmptySerial {
			phase1++
		}
	}
	// insert puts w at position i of the writes, renumbering them; the
	// store loss stays after the same writes, and w goes after it when
	// afterLoss.
	insert := func(i int, w Write, afterLoss bool) int {
		w.Lost = false
		out.Writes = slices.Insert(out.Writes, i, w)
		for j := range out.Writes {
			out.Writes[j].Serial = j + 1
		}
		if in.Events.EmptySerial > 0 {
			out.Events.EmptySerial = phase1 + 2
			if afterLoss {
				out.Events.EmptySerial = phase1 + 1
			}
		}
		return i + 1
	}
	switch kind {
	case VMissingResult:
		for _, m := range in.Results {
			if x.originals[m.CommandID] != nil {
				out.Results = slices.DeleteFunc(out.Results, func(r ResultMsg) bool { return r.CommandID == m.CommandID })
				return &out, m.CommandID + " (resource ", true
			}
		}
	case VMultipleResults:
		for _, m := range in.Results {
			if x.originals[m.CommandID] != nil && !strings.Contains(m.EventID, "-conflict-") {
				m.EventID += "-planted"
				out.Results = append(out.Results, m)
				return &out, "-planted", true
			}
		}
	case VDoubleWrite:
		died := newDeaths(in)
		for i, w := range out.Writes[:phase1] {
			if own, ok := x.writer(w); ok && !own.reuse && !w.Lost && !died.answerDied(own.id, w) {
				n := insert(i+1, w, false)
				return &out, fmt.Sprintf("(write #%d at", n), true
			}
		}
	case VRegression:
		// A write whose fields a later, higher key wrote, written again
		// after that one.
		for i, w := range out.Writes[:phase1] {
			own, ok := x.writer(w)
			k1, known := x.keyOf(own.id)
			if !ok || own.reuse || !known {
				continue
			}
			for j := i + 1; j < min(phase1, i+5000); j++ {
				w2 := out.Writes[j]
				own2, ok := x.writer(w2)
				k2, known := x.keyOf(own2.id)
				if w2.Resource != w.Resource || !ok || own2.reuse || !known || k2.Compare(k1) <= 0 {
					continue
				}
				shared := false
				for f := range w.Fields {
					_, shared = w2.Fields[f]
					if shared {
						break
					}
				}
				if shared {
					n := insert(j+1, w, false)
					return &out, fmt.Sprintf("at write #%d", n), true
				}
			}
		}
	case VReusedWritten:
		for _, c := range in.Commands {
			if c.Reuse {
				n := insert(phase1, Write{Resource: c.Resource, Fields: c.Fields}, false)
				return &out, fmt.Sprintf("write #%d on", n), true
			}
		}
	case VForeignWrite:
		if len(in.Seed) > 0 {
			res := slices.Sorted(maps.Keys(in.Seed))[0]
			insert(phase1, Write{Resource: res, Fields: map[string]string{"clientId": "planted-foreign-value"}}, false)
			return &out, "planted-foreign-value", true
		}
	case VFinalState:
		for _, res := range slices.Sorted(maps.Keys(in.Final)) {
			for _, f := range slices.Sorted(maps.Keys(in.Final[res])) {
				if _, seeded := in.Seed[res][f]; seeded {
					out.Final = maps.Clone(in.Final)
					out.Final[res] = maps.Clone(in.Final[res])
					out.Final[res][f] = "planted-final-value"
					return &out, "planted-final-value", true
				}
			}
		}
	case VSecretLeak:
		if in.Marker == "" {
			return nil, "", false
		}
		for _, c := range in.Commands {
			if s := c.Fields["clientSecret"]; s != "" {
				line := fmt.Sprintf(`{"level":"ERROR","msg":"provider refused","error":"bad client_secret=%s"}`, strings.ToUpper(s))
				if form := NewSecretScanner(in.Marker).Find([]byte(line)); form != "" {
					out.Leaks = append(out.Leaks, Leak{Source: "a planted log line", Form: form})
				}
				return &out, "a planted log line", true
			}
		}
	case VWriteAfterLoss:
		if in.Events.EmptySerial == 0 {
			return nil, "", false
		}
		for _, w := range out.Writes[:phase1] {
			if own, ok := x.writer(w); ok && !own.reuse {
				n := insert(len(out.Writes), w, true)
				return &out, fmt.Sprintf("write #%d on", n), true
			}
		}
	case VImplausible:
		out.Events.NATSRestarts = in.Plan.NATSRestarts + 1
		return &out, "NATS restarts, planned", true
	}
	return nil, "", false
}

// checkPlanted plants each kind into in and reports, per kind, whether the
// checker caught it ("caught", "MISSED" or "no place"), and how many it
// caught.
func checkPlanted(in *Input) (caught int, missed, notes []string) {
	for _, kind := range plantKinds {
		planted, sig, ok := plant(in, kind)
		if !ok {
			notes = append(notes, kind+": no place in this run's data")
			continue
		}
		found := false
		for _, v := range Check(planted).Violations[kind] {
			// A serial must not match a longer one: "#12" is not "#123".
			if strings.HasSuffix(sig, "#") || !endsInSerial(sig) {
				found = found || strings.Contains(v.Text, sig)
			} else {
				found = found || strings.HasSuffix(v.Text, sig)
			}
		}
		if found {
			caught++
		} else {
			missed = append(missed, kind)
		}
	}
	return caught, missed, notes
}

// endsInSerial reports whether sig ends in "#" and digits.
func endsInSerial(sig string) bool {
	i := strings.LastIndexByte(sig, '#')
	if i < 0 || i == len(sig)-1 {
		return false
	}
	for _, c := range sig[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
