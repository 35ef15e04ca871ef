package main

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// The checker judges a run from raw data only: the commands the tool
// published (and what JetStream stored of them), every write the provider
// accepted (recorded before the answer left), every result and dead letter
// in the streams, the provider's final state, the workers' logs and RSS. It
// never reads the worker's dedup store or trusts a worker's own counters.

// OrderKey is a command's per-resource order key (docs/CONTRACT.md §3):
// data.sequence, else the time JetStream stored the command in Unix ms; ties
// broken by the stream sequence.
type OrderKey struct {
	Key int64
	Seq uint64
}

// Compare orders keys: negative when k is lower than o.
func (k OrderKey) Compare(o OrderKey) int {
	return cmp.Or(cmp.Compare(k.Key, o.Key), cmp.Compare(k.Seq, o.Seq))
}

func (k OrderKey) String() string { return fmt.Sprintf("%d/%d", k.Key, k.Seq) }

// Command is one payload the tool published. An original command and a
// reused id's other payload share the ID; Reuse marks the latter, which
// must never be written.
type Command struct {
	ID       string
	Resource string
	// Fields are the provider fields it sets, each to a value unique to
	// this payload (scopes joined with ","), the secret included.
	Fields   map[string]string
	Sequence *int64
	Reuse    bool
}

// StoredCopy is one copy of a command in the commands stream, as JetStream
// stored it (a late duplicate is stored again).
type StoredCopy struct {
	ID     string
	Reuse  bool
	Seq    uint64
	Stored time.Time
}

// Write is one write the provider accepted, in the order it applied them.
type Write struct {
	Serial   int
	Time     time.Time
	Resource string
	Fields   map[string]string
	// Full: the body replaces the whole object (read, merge, write);
	// otherwise only the keys present change (PATCH).
	Full bool
	// Lost: the write landed but its answer never reached the worker.
	Lost bool
	// Worker is the slot of the worker process that sent it (-1: unknown).
	Worker int
}

// Kill is one SIGKILL of a worker process: its slot and when it was dead.
type Kill struct {
	Worker int
	Time   time.Time
}

// ResultMsg is one message of the results stream.
type ResultMsg struct {
	// Seq is the message's stream sequence; Time when JetStream stored it.
	Seq       uint64
	Time      time.Time
	EventID   string
	CommandID string
	Status    string
	ErrorCode string
	Applied   []string
	Skipped   []string
}

// Leak is a canary secret found somewhere it must never be.
type Leak struct {
	Source string
	Form   string
}

// Plan is what the run set out to do; the checker fails a run whose counts
// do not match it (a verdict must not pass by accident).
type Plan struct {
	Kills         int // at least this many worker kills
	NATSRestarts  int // exactly
	RedisRestarts int // with data kept, exactly
	RedisEmptied  bool
	// FaultRate and LostRate are the provider's injected fault rates.
	FaultRate, LostRate float64
	MaxRSSKiB           int64
}

// Events is what the run actually did and saw, besides the data.
type Events struct {
	Kills, NATSRestarts, RedisRestarts, RedisEmptied int
	// KillLog is every worker kill, in order.
	KillLog                       []Kill
	Faults, LostAnswers, Requests int
	// PeakRSS is the peak RSS of each worker slot, KiB.
	PeakRSS []int64
	// RSSSamples counts the RSS readings taken.
	RSSSamples int
	// ScannedBytes is how much text was searched for canaries.
	ScannedBytes int64
	// EmptySerial is the first write serial after Redis came back empty (0:
	// never emptied); EmptyResultSeq the first results stream sequence
	// after it. What happens from then on is reported under kinds prefixed
	// "store_loss:", apart from what happened before.
	EmptySerial    int
	EmptyResultSeq uint64
	// Readyz holds each worker's /readyz answer after Redis came back
	// empty: "503: reason" or "200: ...".
	Readyz []string
	// FailClosed reports, per worker, whether /readyz said not ready.
	FailClosed []bool
}

// Input is everything the checker reads.
type Input struct {
	Commands []Command
	Copies   []StoredCopy
	Writes   []Write
	Results  []ResultMsg
	// Unrouted are the ids of commands published for a connection no
	// worker serves: each must end rejected as unknown_connection, once.
	Unrouted []string
	// Seed is each resource's initial fields; Final the provider's state
	// when phase 1 settled (before Redis was emptied).
	Seed, Final map[string]map[string]string
	// FinalSerial: writes with a serial up to it make Final.
	FinalSerial int
	Leaks       []Leak
	Plan        Plan
	Events      Events
	// Marker starts every canary secret (for planting a leak).
	Marker string
	// Classify names a resource's class, for a breakdown of violations by
	// class (nil: none).
	Classify func(resource string) string
}

// The kinds of violation.
const (
	VMissingResult    = "missing_result"
	VMultipleResults  = "multiple_results"
	VReusedWritten    = "reused_id_written"
	VDoubleWrite      = "double_write"
	VRegression       = "regression"
	VForeignWrite     = "foreign_write"
	VFinalState       = "final_state"
	VAppliedNoWrite   = "applied_without_write"
	VWriteNotApplied  = "written_but_not_applied"
	VLostNotApplied   = "lost_write_not_applied"
	VSecretLeak       = "secret_leak"
	VMemory           = "memory"
	VStoreLossUnnoted = "store_loss_not_detected"
	VWriteAfterLoss   = "write_after_store_loss"
	VImplausible      = "implausible_run"
	VUnknownOrderKey  = "unknown_order_key"
	VWronglySkipped   = "wrongly_skipped"
	VUnroutedAnswer   = "unserved_connection_not_rejected"
	// storeLoss prefixes the kinds of what happened after Redis came back
	// empty.
	storeLoss          = "store_loss:"
	maxExamplesPerKind = 10
)

// Report is the verdict.
type Report struct {
	Counts []Count
	// Violations holds every violation of each kind, in the order found.
	Violations map[string][]Violation
	Totals     map[string]int // kind -> number of violations
	// ByClass counts violations per kind and resource class.
	ByClass map[string]map[string]int
}

// Violation is one broken property: what and where, and the class of the
// resource it is on ("" when none).
type Violation struct {
	Class, Text string
}

// Count is one thing the checker counted.
type Count struct {
	Name string
	N    int
}

// Pass reports whether no violation was found.
func (r *Report) Pass() bool { return len(r.Totals) == 0 }

func (r *Report) add(kind, format string, args ...any) {
	r.addClass("", kind, format, args...)
}

func (r *Report) addClass(class, kind, format string, args ...any) {
	if r.Totals == nil {
		r.Totals, r.Violations = map[string]int{}, map[string][]Violation{}
	}
	r.Totals[kind]++
	r.Violations[kind] = append(r.Violations[kind], Violation{class, fmt.Sprintf(format, args...)})
	if class != "" {
		if r.ByClass == nil {
			r.ByClass = map[string]map[string]int{}
		}
		if r.ByClass[kind] == nil {
			r.ByClass[kind] = map[string]int{}
		}
		r.ByClass[kind][class]++
	}
}

// addRes is add for a violation on resource res, counted by class too.
func (r *Report) addRes(classify func(string) string, res, kind, format string, args ...any) {
	class := ""
	if classify != nil {
		class = classify(res)
	}
	r.addClass(class, kind, format, args...)
}

func (r *Report) count(name string, n int) { r.Counts = append(r.Counts, Count{name, n}) }

// Summary is the one line verdict: syncchaos: PASS|FAIL and the counts.
func (r *Report) Summary() string {
	verdict := "PASS"
	if !r.Pass() {
		verdict = "FAIL"
	}
	var parts []string
	for _, c := range r.Counts {
		parts = append(parts, fmt.Sprintf("%d %s", c.N, c.Name))
	}
	s := "syncchaos: " + verdict + " checked " + strings.Join(parts, ", ")
	if !r.Pass() {
		var v []string
		for _, k := range r.kinds() {
			v = append(v, fmt.Sprintf("%s=%d", k, r.Totals[k]))
		}
		s += "; violations: " + strings.Join(v, " ")
	}
	return s
}

func (r *Report) kinds() []string {
	ks := make([]string, 0, len(r.Totals))
	for k := range r.Totals {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Details lists the violations: the first few of each kind, and the
// first few of each resource class among the rest.
func (r *Report) Details() string { return r.details(maxExamplesPerKind, 3) }

// All lists every violation.
func (r *Report) All() string { return r.details(-1, 0) }

func (r *Report) details(first, perClass int) string {
	var b strings.Builder
	for _, k := range r.kinds() {
		fmt.Fprintf(&b, "%s: %d", k, r.Totals[k])
		if bc := r.ByClass[k]; len(bc) > 0 {
			var parts []string
			for _, c := range sortedKeys(bc) {
				parts = append(parts, fmt.Sprintf("%s %d", c, bc[c]))
			}
			fmt.Fprintf(&b, " (by resource class: %s)", strings.Join(parts, ", "))
		}
		b.WriteString("\n")
		shown, classShown := 0, map[string]int{}
		for i, v := range r.Violations[k] {
			if first >= 0 && i >= first && (v.Class == "" || classShown[v.Class] >= perClass) {
				continue
			}
			shown++
			classShown[v.Class]++
			fmt.Fprintf(&b, "  - %s\n", v.Text)
		}
		if n := r.Totals[k] - shown; n > 0 {
			fmt.Fprintf(&b, "  ... and %d more\n", n)
		}
	}
	return b.String()
}

type owner struct {
	id    string
	reuse bool
}

func ownerKey(field, value string) string { return field + "\x00" + value }

// index is who owns each field value and each command's order key.
type index struct {
	owners    map[string]owner
	originals map[string]*Command
	first     map[string]StoredCopy // each original's first stored copy
}

func newIndex(in *Input) *index {
	x := &index{owners: map[string]owner{}, originals: map[string]*Command{}, first: map[string]StoredCopy{}}
	for i := range in.Commands {
		c := &in.Commands[i]
		for f, v := range c.Fields {
			x.owners[ownerKey(f, v)] = owner{c.ID, c.Reuse}
		}
		if !c.Reuse {
			x.originals[c.ID] = c
		}
	}
	for _, cp := range in.Copies {
		if cp.Reuse {
			continue
		}
		if f, ok := x.first[cp.ID]; !ok || cp.Seq < f.Seq {
			x.first[cp.ID] = cp
		}
	}
	return x
}

// keyOf returns an original command's order key: data.sequence, else the
// time its first copy was stored; ties by that copy's stream sequence.
func (x *index) keyOf(id string) (OrderKey, bool) {
	cp, ok := x.first[id]
	if !ok {
		return OrderKey{}, false
	}
	c := x.originals[id]
	if c != nil && c.Sequence != nil {
		return OrderKey{*c.Sequence, cp.Seq}, true
	}
	return OrderKey{cp.Stored.UnixMilli(), cp.Seq}, true
}

// writer returns the payload whose values a write carries; false when they
// are not all from one published payload.
func (x *index) writer(w Write) (owner, bool) {
	var own owner
	if len(w.Fields) == 0 {
		return own, false
	}
	for f, v := range w.Fields {
		o, known := x.owners[ownerKey(f, v)]
		if !known || (own.id != "" && o != own) {
			return owner{}, false
		}
		own = o
	}
	return own, true
}

// piece is the part of a write that one payload's values make.
type piece struct {
	owner  owner // id "": the resource's seed values
	fields []string
}

// writePieces splits a write by the payloads whose values it carries. A
// partial write (PATCH) carries one payload's values, or several payloads'
// on different fields (a merged write: the worker's riders). A full
// replacement carries the whole object: only the tracked fields (the
// seed's) that it changes count, compared with the object as the history
// so far left it, and they may come from several payloads (a stale read
// writes an older command's value back). foreign, when not empty, says why
// the write carries values no payload has.
func writePieces(x *index, seed map[string]map[string]string, fullState map[string]map[string]string, w Write) (pieces []piece, foreign string) {
	if !w.Full {
		if len(w.Fields) == 0 {
			return nil, "a write of no field"
		}
		byOwner := map[owner][]string{}
		var owners []owner
		for _, f := range sortedKeys(w.Fields) {
			o, known := x.owners[ownerKey(f, w.Fields[f])]
			if !known {
				return nil, fmt.Sprintf("fields %v: %s=%q is no published payload's value", w.Fields, f, w.Fields[f])
			}
			if _, seen := byOwner[o]; !seen {
				owners = append(owners, o)
			}
			byOwner[o] = append(byOwner[o], f)
		}
		for _, o := range owners {
			pieces = append(pieces, piece{o, byOwner[o]})
		}
		return pieces, ""
	}
	st := fullState[w.Resource]
	if st == nil {
		st = maps.Clone(seed[w.Resource])
		fullState[w.Resource] = st
	}
	byOwner := map[owner][]string{}
	var owners []owner
	for _, f := range sortedKeys(seed[w.Resource]) {
		v, present := w.Fields[f]
		if !present || v == st[f] {
			continue
		}
		st[f] = v
		o, known := x.owners[ownerKey(f, v)]
		switch {
		case v == seed[w.Resource][f]:
			o = owner{}
		case !known:
			foreign += fmt.Sprintf("%s=%q is no payload's value; ", f, v)
			continue
		}
		if _, seen := byOwner[o]; !seen {
			owners = append(owners, o)
		}
		byOwner[o] = append(byOwner[o], f)
	}
	if foreign != "" {
		return nil, strings.TrimSuffix(foreign, "; ")
	}
	for _, o := range owners {
		pieces = append(pieces, piece{o, byOwner[o]})
	}
	return pieces, ""
}

// deaths tells a write whose answer died with its worker: the worker that
// sent it was killed before any result of the command was stored, so the
// answer was lost as surely as one the provider never sent (a provider
// without a read, such as Reelevant, is then written again).
type deaths struct {
	kills       []Kill
	firstResult map[string]time.Time // command -> its first result's stored time
}

func newDeaths(in *Input) *deaths {
	d := &deaths{kills: slices.Clone(in.Events.KillLog), firstResult: map[string]time.Time{}}
	slices.SortFunc(d.kills, func(a, b Kill) int { return a.Time.Compare(b.Time) })
	for _, m := range in.Results {
		if t, ok := d.firstResult[m.CommandID]; !ok || m.Time.Before(t) {
			d.firstResult[m.CommandID] = m.Time
		}
	}
	return d
}

// answerDied reports whether the answer to w, a write of command id, died
// with the worker that sent it.
func (d *deaths) answerDied(id string, w Write) bool {
	if w.Worker < 0 {
		return false
	}
	for _, k := range d.kills {
		if k.Worker == w.Worker && !k.Time.Before(w.Time) {
			res, ok := d.firstResult[id]
			return !ok || res.After(k.Time)
		}
	}
	return false
}

// Check judges in.
func Check(in *Input) *Report {
	r := &Report{}
	x := newIndex(in)
	died := newDeaths(in)
	originals, keyOf := x.originals, x.keyOf

	// Results: one terminal result per id (conflict events aside); the
	// first stored one is the command's outcome.
	outcome := map[string]ResultMsg{}
	eventIDs := map[string]map[string]string{} // command -> event id -> status
	conflicts := 0
	for _, m := range in.Results {
		if strings.Contains(m.EventID, "-conflict-") {
			conflicts++
			continue
		}
		kind := VMultipleResults
		if in.Events.EmptyResultSeq > 0 && m.Seq >= in.Events.EmptyResultSeq {
			kind = storeLoss + kind
		}
		ev := eventIDs[m.CommandID]
		if ev == nil {
			ev = map[string]string{}
			eventIDs[m.CommandID] = ev
		}
		if st, seen := ev[m.EventID]; seen && st != m.Status {
			r.add(kind, "%s: event %s stored twice with statuses %s and %s", m.CommandID, m.EventID, st, m.Status)
		}
		if _, seen := ev[m.EventID]; !seen {
			ev[m.EventID] = m.Status
		}
		if _, ok := outcome[m.CommandID]; !ok {
			outcome[m.CommandID] = m
		}
	}
	ids := make([]string, 0, len(originals))
	for id := range originals {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if _, ok := outcome[id]; !ok {
			r.add(VMissingResult, "%s (resource %s): no terminal result", id, originals[id].Resource)
		}
		// A second event id is a violation; a replay's result
		// (result-<id>-replay-<n>) has one of its own.
		if ev := eventIDs[id]; len(ev) > 1 {
			plain := 0
			for eid := range ev {
				if !strings.Contains(eid, "-replay-") {
					plain++
				}
			}
			if plain > 1 {
				r.add(VMultipleResults, "%s: %d distinct terminal results %v", id, len(ev), ev)
			}
		}
	}
	// Commands for a connection no worker serves (the catch-all scan):
	// rejected as unknown_connection, once each.
	for _, id := range in.Unrouted {
		res, ok := outcome[id]
		switch {
		case !ok:
			r.add(VMissingResult, "%s (unserved connection): no terminal result", id)
		case res.Status != "rejected" || res.ErrorCode != "unknown_connection":
			r.add(VUnroutedAnswer, "%s (unserved connection): result %s %s, want rejected unknown_connection", id, res.Status, res.ErrorCode)
		}
		if ev := eventIDs[id]; len(ev) > 1 {
			r.add(VMultipleResults, "%s (unserved connection): %d distinct terminal results %v", id, len(ev), ev)
		}
	}

	// Writes: replayed per resource in the provider's order.
	writes := slices.Clone(in.Writes)
	slices.SortFunc(writes, func(a, b Write) int { return cmp.Compare(a.Serial, b.Serial) })
	type fieldState struct {
		key OrderKey
		id  string
	}
	current := map[string]map[string]fieldState{}
	lastWrite := map[string]Write{} // command -> its previous write
	written := map[string]int{}
	regressions, lostSeen, diedAnswers, merged := 0, 0, 0, 0
	maxWritten := map[string]OrderKey{}         // resource, field -> highest key written
	acked := map[string]int{}                   // command -> its writes whose answer arrived
	fullState := map[string]map[string]string{} // full-replace resources, replayed
	for _, w := range writes {
		if w.Lost {
			lostSeen++
		}
		prefix := ""
		if in.Events.EmptySerial > 0 && w.Serial >= in.Events.EmptySerial {
			prefix = storeLoss
		}
		pieces, foreign := writePieces(x, in.Seed, fullState, w)
		if foreign != "" {
			r.add(VForeignWrite, "write #%d on %s: %s", w.Serial, w.Resource, foreign)
			continue
		}
		if !w.Full && len(pieces) > 1 {
			merged++ // a full replacement carries several payloads' values anyway
		}
		for _, pc := range pieces {
			own := pc.owner
			if own.id == "" { // a field set back to its seed value
				for _, f := range pc.fields {
					if st, set := current[w.Resource][f]; set {
						regressions++
						r.addRes(in.Classify, w.Resource, prefix+VRegression, "%s.%s: set back to its seed value over %s (key %s) at write #%d", w.Resource, f, st.id, st.key, w.Serial)
					}
					if current[w.Resource] != nil {
						delete(current[w.Resource], f)
					}
				}
				continue
			}
			if c := originals[own.id]; c != nil && c.Resource != w.Resource {
				r.add(VForeignWrite, "write #%d on %s: values of %s, a command for %s", w.Serial, w.Resource, own.id, c.Resource)
				continue
			}
			if prefix != "" {
				r.add(VWriteAfterLoss, "write #%d on %s of %s (reuse=%t) after Redis came back empty", w.Serial, w.Resource, own.id, own.reuse)
			}
			if own.reuse {
				r.add(prefix+VReusedWritten, "write #%d on %s: the second payload of reused id %s", w.Serial, w.Resource, own.id)
				continue
			}
			if prev, seen := lastWrite[own.id]; seen && !prev.Lost && died.answerDied(own.id, prev) {
				diedAnswers++
			} else if seen && !prev.Lost {
				r.add(prefix+VDoubleWrite, "%s written again (write #%d at %s) after write #%d at %s, whose answer was not lost",
					own.id, w.Serial, w.Time.Format(time.StampMilli), prev.Serial, prev.Time.Format(time.StampMilli))
			}
			lastWrite[own.id] = w
			if prefix == "" { // the claims are checked against the history up to the store loss
				written[own.id]++
				if !w.Lost {
					acked[own.id]++
				}
			}
			key, known := keyOf(own.id)
			if !known {
				r.add(VUnknownOrderKey, "write #%d: %s is not in the commands stream", w.Serial, own.id)
				continue
			}
			cur := current[w.Resource]
			if cur == nil {
				cur = map[string]fieldState{}
				current[w.Resource] = cur
			}
			for _, f := range pc.fields {
				if st, set := cur[f]; set && key.Compare(st.key) < 0 {
					regressions++
					r.addRes(in.Classify, w.Resource, prefix+VRegression, "%s.%s: %s (key %s) overwrote %s (key %s) at write #%d", w.Resource, f, own.id, key, st.id, st.key, w.Serial)
				}
				cur[f] = fieldState{key, own.id}
				if mk, ok := maxWritten[w.Resource+"\x00"+f]; !ok || key.Compare(mk) > 0 {
					maxWritten[w.Resource+"\x00"+f] = key
				}
			}
		}
	}

	// The worker's claims against the provider's history.
	for _, id := range ids {
		res, ok := outcome[id]
		if !ok {
			continue
		}
		applied := res.Status == "applied"
		if applied && len(res.Applied) > 0 && written[id] == 0 {
			r.add(VAppliedNoWrite, "%s: result applied %v but the provider never received its values", id, res.Applied)
		}
		switch {
		case !applied && acked[id] > 0:
			r.addRes(in.Classify, originals[id].Resource, VWriteNotApplied, "%s: its values were written %d time(s), answered 200, but its result is %s %s", id, written[id], res.Status, res.ErrorCode)
		case !applied && written[id] > 0:
			// The worker never saw the answer; a read or its own record of
			// the attempt can still tell it the write landed.
			r.addRes(in.Classify, originals[id].Resource, VLostNotApplied, "%s: its values were written (the answer was lost) but its result is %s %s", id, res.Status, res.ErrorCode)
		}
		// A skipped field needs a higher order key that wrote it.
		skipped := res.Skipped
		if res.Status == "superseded" {
			skipped = sortedKeys(originals[id].Fields)
		}
		key, known := keyOf(id)
		for _, f := range skipped {
			if mk, ok := maxWritten[originals[id].Resource+"\x00"+f]; known && (!ok || mk.Compare(key) <= 0) {
				r.addRes(in.Classify, originals[id].Resource, VWronglySkipped, "%s (key %s): %s skipped (result %s) but no higher order key ever wrote it", id, key, f, res.Status)
			}
		}
	}

	// Final state: per field, the value of the highest order key among
	// applied/unchanged/superseded commands, else the seed.
	checkedFields := 0
	if in.Final != nil {
		model := map[string]map[string]fieldState{}
		for _, id := range ids {
			res, ok := outcome[id]
			// superseded counts: it claims a higher key set its fields,
			// which the end state then shows or refutes.
			if !ok || (res.Status != "applied" && res.Status != "unchanged" && res.Status != "superseded") {
				continue
			}
			c := originals[id]
			key, known := keyOf(id)
			if !known {
				continue
			}
			m := model[c.Resource]
			if m == nil {
				m = map[string]fieldState{}
				model[c.Resource] = m
			}
			for f := range c.Fields {
				if st, set := m[f]; !set || key.Compare(st.key) > 0 {
					m[f] = fieldState{key, id}
				}
			}
		}
		for _, res := range sortedKeys(in.Seed) {
			want := map[string]string{}
			for f, v := range in.Seed[res] {
				want[f] = v
			}
			for f, st := range model[res] {
				want[f] = originals[st.id].Fields[f]
			}
			got := in.Final[res]
			for _, f := range sortedKeys(want) {
				checkedFields++
				if got[f] != want[f] {
					who := "the seed"
					if st, ok := model[res][f]; ok {
						who = st.id + " (key " + st.key.String() + ")"
					}
					r.addRes(in.Classify, res, VFinalState, "%s.%s = %q, want %q from %s", res, f, got[f], want[f], who)
				}
			}
		}
	}

	for _, l := range in.Leaks {
		r.add(VSecretLeak, "a canary secret (%s) in %s", l.Form, l.Source)
	}
	for i, kib := range in.Events.PeakRSS {
		if in.Plan.MaxRSSKiB > 0 && kib > in.Plan.MaxRSSKiB {
			r.add(VMemory, "worker %d peaked at %.1f MiB, above %.1f MiB", i, float64(kib)/1024, float64(in.Plan.MaxRSSKiB)/1024)
		}
	}
	if in.Plan.RedisEmptied {
		for i, closed := range in.Events.FailClosed {
			if !closed {
				r.add(VStoreLossUnnoted, "worker %d still ready after Redis came back empty: /readyz %q", i, in.Events.Readyz[i])
			}
		}
	}

	// Plausibility: the run must have done what it set out to, and the
	// checks must have had something to check.
	e, p := in.Events, in.Plan
	implausible := func(cond bool, format string, args ...any) {
		if cond {
			r.add(VImplausible, format, args...)
		}
	}
	implausible(len(ids) == 0, "no command published")
	implausible(len(in.Copies) < len(ids), "%d copies in the commands stream for %d commands", len(in.Copies), len(ids))
	implausible(len(writes) == 0, "no provider write recorded")
	implausible(len(in.Results) == 0, "no result read")
	implausible(len(in.Seed) == 0 || (in.Final != nil && checkedFields == 0), "no provider state checked")
	implausible(e.Kills < p.Kills, "%d worker kills, planned at least %d", e.Kills, p.Kills)
	implausible(e.NATSRestarts != p.NATSRestarts, "%d NATS restarts, planned %d", e.NATSRestarts, p.NATSRestarts)
	implausible(e.RedisRestarts != p.RedisRestarts, "%d Redis restarts with data kept, planned %d", e.RedisRestarts, p.RedisRestarts)
	implausible(p.RedisEmptied != (e.RedisEmptied > 0), "Redis emptied %d times, planned %t", e.RedisEmptied, p.RedisEmptied)
	implausible(p.RedisEmptied && len(e.FailClosed) == 0, "no /readyz read after Redis came back empty")
	implausible(p.FaultRate > 0 && e.Requests >= 100 && e.Faults == 0, "no provider fault injected in %d requests", e.Requests)
	implausible(p.LostRate > 0 && e.Requests >= 1000 && e.LostAnswers == 0, "no lost answer injected in %d requests", e.Requests)
	implausible(e.LostAnswers != lostSeen, "%d lost answers injected, %d in the history", e.LostAnswers, lostSeen)
	implausible(len(e.PeakRSS) == 0 || e.RSSSamples == 0, "worker memory never sampled")
	implausible(e.ScannedBytes == 0, "no text scanned for secrets")

	r.count("ids", len(ids))
	r.count("unserved-connection commands", len(in.Unrouted))
	r.count("results", len(in.Results))
	r.count("conflict events", conflicts)
	r.count("writes", len(writes))
	r.count("merged partial writes", merged)
	r.count("lost answers", e.LostAnswers)
	r.count("writes again after an answer died with its worker", diedAnswers)
	r.count("provider faults", e.Faults)
	r.count("regressions", regressions)
	r.count("final fields", checkedFields)
	r.count("KiB scanned for secrets", int(e.ScannedBytes/1024))
	r.count("kills", e.Kills)
	r.count("NATS restarts", e.NATSRestarts)
	r.count("Redis restarts", e.RedisRestarts)
	r.count("Redis emptied", e.RedisEmptied)
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// SecretScanner finds a run's canary secrets: every secret starts with one
// marker, so the marker's forms find any of them, whole or truncated to the
// marker: as is, upper-cased (case-insensitive search) and base64-encoded
// (standard and URL alphabets, at each of the three alignments).
type SecretScanner struct {
	lower  []byte
	base64 [][]byte
}

// NewSecretScanner returns a scanner for marker (at least 9 characters).
func NewSecretScanner(marker string) *SecretScanner {
	s := &SecretScanner{lower: []byte(strings.ToLower(marker))}
	for k := range 3 {
		part := []byte(marker[k:])
		n := len(part) / 3 * 4
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s.base64 = append(s.base64, []byte(enc.EncodeToString(part)[:n]))
		}
	}
	return s
}

// Find returns the form in which data holds a canary ("" for none).
func (s *SecretScanner) Find(data []byte) string {
	if bytes.Contains(bytes.ToLower(data), s.lower) {
		return "plain or upper-cased"
	}
	for _, b := range s.base64 {
		if bytes.Contains(data, b) {
			return "base64"
		}
	}
	return ""
}
