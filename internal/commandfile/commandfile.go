package commandfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/oauthsync/oauthsync/messages"
)

// DefaultSource is the CloudEvents source of commands built from the short form.
const DefaultSource = "/syncctl"

// MaxLineBytes bounds one line of a file. A command is at most 64 KiB by
// default; a line may carry some whitespace more.
const MaxLineBytes = 1 << 20

// Options tune how a file is read.
type Options struct {
	// Batch is the migration's batch id, set on every command (required by
	// ReadNDJSON and ReadCSV). A full CloudEvent line that names another
	// batch is invalid.
	Batch string
	// Source is the CloudEvents source of short-form commands. Default
	// DefaultSource.
	Source string
	// Decode is what the worker's decoder is told (subjects, size limit),
	// so a line is refused here exactly when the worker would refuse it.
	Decode messages.DecodeOptions
	// Check, when set, is called for each command that messages accepts
	// (e.g. the adapter's Validate); its error makes the line invalid.
	// It must be safe for concurrent use.
	Check func(*messages.Command) error
	// NewID, when set, gives the id of a short-form command that has
	// none, instead of DerivedID (publish uses a fresh random id).
	NewID func() string
	// ClientSecret, when set, is the client secret of every command (a
	// secret rotated across connections); a line that gives its own is
	// invalid. Set before Check runs.
	ClientSecret messages.Secret
}

// Line is one line of a migration file.
type Line struct {
	// Number is the line's 1-based number in the file (for CSV, counting
	// the header as line 1).
	Number int
	// Command is the validated command; nil when Err is set.
	Command *messages.Command
	// Body is the command's wire JSON, what is published.
	Body []byte
	// Err says why the line is invalid: a *LineError.
	Err error
}

// LineError says why a line was refused: where and why, never a value.
type LineError struct {
	Line   int
	Field  string
	Reason string
	// Err is the check's own error (an *adapters.Error from Check), if any.
	Err error
}

// Unwrap returns the check's own error.
func (e *LineError) Unwrap() error { return e.Err }

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// ShortForm is a command as a migration line may give it: the routing, the
// data, and optionally an id (when absent one is derived from the batch,
// the line number and the line's content, so rereading the file gives the
// same ids). In a line, its keys are spelled exactly and given once, as are
// the keys of providerFields.
type ShortForm struct {
	ID             string                     `json:"id,omitempty"`
	Connection     string                     `json:"connection"`
	Resource       string                     `json:"resource"`
	Sequence       *int64                     `json:"sequence,omitempty"`
	Changes        json.RawMessage            `json:"changes,omitempty"`
	ProviderFields map[string]json.RawMessage `json:"providerFields,omitempty"`
}

// rawLine is one non-blank line as read.
type rawLine struct {
	number int
	text   []byte
}

// ReadNDJSON reads a file of one command per line: each line either a full
// command CloudEvent or the ShortForm. Blank lines are skipped (their numbers
// still count). Every line is validated, in parallel, with the same decoder
// the worker uses; the returned slice holds every non-blank line in file
// order, each with either a Command or an Err. Duplicate ids are refused on
// every line after the first. The error is for reading r, not for lines.
func ReadNDJSON(r io.Reader, opts Options) ([]Line, error) {
	if !messages.ValidCommandID(opts.Batch) {
		return nil, fmt.Errorf("batch id must be 1 to 128 characters of [A-Za-z0-9._:-]")
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	var raws []rawLine
	n := 0 // the number of the last line read
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		raws = append(raws, rawLine{number: n, text: bytes.Clone(text)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			// Blank lines count: the line too long is the one after the last read.
			return nil, fmt.Errorf("line %d is longer than %d bytes", n+1, MaxLineBytes)
		}
		return nil, err
	}
	lines := make([]Line, len(raws))
	parallel(len(raws), func(i int) {
		lines[i] = opts.parseLine(raws[i])
	})
	refuseDuplicateIDs(lines)
	return lines, nil
}

// parallel runs f(0..n-1) on every CPU.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), max(n/256, 1))
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / max(workers, 1)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		wg.Go(func() {
			for i := start; i < end; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}

// Parse validates one command given as JSON (a full CloudEvent or the short
// form), numbered number. Unlike ReadNDJSON it accepts an empty Batch: the
// command then keeps its own batch, if any.
func Parse(number int, text []byte, o Options) Line {
	return o.parseLine(rawLine{number: number, text: bytes.TrimSpace(text)})
}

// parseLine turns one line into a validated command.
func (o Options) parseLine(raw rawLine) Line {
	line := Line{Number: raw.number}
	if len(raw.text) == 0 || raw.text[0] != '{' {
		reason := "not a JSON object"
		if len(raw.text) == 0 {
			reason += ": the line is empty"
		} else if !json.Valid(raw.text) {
			reason += ": invalid JSON"
		}
		line.Err = &LineError{Line: raw.number, Reason: reason}
		return line
	}
	var head struct {
		SpecVersion *json.RawMessage `json:"specversion"`
	}
	if err := json.Unmarshal(raw.text, &head); err != nil {
		line.Err = &LineError{Line: raw.number, Reason: notObjectReason(raw.text, err)}
		return line
	}
	var cmd *messages.Command
	var wire []byte
	var err error
	if head.SpecVersion != nil {
		cmd, wire, err = o.fromEvent(raw)
	} else {
		cmd, wire, err = o.fromShortForm(raw)
	}
	if err != nil {
		line.Err = err
		return line
	}
	return o.finish(raw.number, cmd, wire)
}

// notObjectReason says why text, which starts with '{', did not unmarshal
// as one JSON object: a syntax error, or data after the object. Like
// jsonReason, it never quotes the text.
func notObjectReason(text []byte, err error) string {
	dec := json.NewDecoder(bytes.NewReader(text))
	var first json.RawMessage
	if dec.Decode(&first) == nil {
		// The first value is a whole object: what follows it is the fault.
		return fmt.Sprintf("holds more than one JSON value (data after byte %d); write one command per line", dec.InputOffset())
	}
	return "not a JSON object: " + jsonReason(err)
}

// finish sets the shared client secret, runs Check and encodes cmd. wire,
// when not nil, is the body DecodeCommand accepted, already carrying the
// run's batch: without a shared secret to add it is published as it is
// (exactly the bytes validated, and no second encoding).
func (o Options) finish(number int, cmd *messages.Command, wire []byte) Line {
	line := Line{Number: number}
	if o.ClientSecret != "" {
		if cmd.Data.Changes.ClientSecret != nil {
			line.Err = &LineError{Line: number, Field: "data.changes.clientSecret", Reason: "is given both on the line and by --secret-from-env/--secret-from-file"}
			return line
		}
		secret := o.ClientSecret
		cmd.Data.Changes.ClientSecret = &secret
	}
	if o.Check != nil {
		if err := o.Check(cmd); err != nil {
			line.Err = &LineError{Line: number, Reason: err.Error(), Err: err}
			return line
		}
	}
	if wire != nil && o.ClientSecret == "" {
		line.Command, line.Body = cmd, wire
		return line
	}
	body, err := cmd.Encode()
	if err != nil {
		line.Err = &LineError{Line: number, Reason: "cannot encode: " + jsonReason(err)}
		return line
	}
	// The body published is not the one decoded: it has the run's batch and
	// shared secret, and encoding escapes what the line may hold raw
	// (U+2028, U+2029), so it may be longer. The worker must accept it as
	// it is. A command DecodeCommand accepted encodes to one it accepts but
	// for the size limit, so the size is checked; the shared secret, which
	// no decoder has seen, is checked by decoding the body once more.
	limit := o.Decode.MaxBytes
	if limit <= 0 {
		limit = messages.DefaultMaxCommandBytes
	}
	if len(body) > limit {
		line.Err = &LineError{Line: number, Field: "body", Reason: fmt.Sprintf("is %d bytes long once encoded as published, over the limit of %d bytes", len(body), limit)}
		return line
	}
	if o.ClientSecret != "" {
		if _, err := messages.DecodeCommand(o.Decode.Subjects.Command(cmd.Connection, cmd.Resource), body, o.Decode); err != nil {
			line.Err = lineErr(number, err)
			return line
		}
	}
	line.Command, line.Body = cmd, body
	return line
}

// fromEvent validates a full CloudEvent line: routed by its own connection
// and resource, and carrying the run's batch.
func (o Options) fromEvent(raw rawLine) (*messages.Command, []byte, error) {
	var route struct {
		Connection string `json:"connection"`
		Resource   string `json:"resource"`
		Batch      string `json:"batch"`
	}
	_ = json.Unmarshal(raw.text, &route) // errors surface in DecodeCommand
	if !messages.ValidConnection(route.Connection) {
		return nil, nil, &LineError{Line: raw.number, Field: "connection", Reason: "must match [a-z0-9_-]{1,64}"}
	}
	if !messages.ValidResource(route.Resource) {
		return nil, nil, &LineError{Line: raw.number, Field: "resource", Reason: "must match [A-Za-z0-9_-]{1,128}"}
	}
	// An invalid batch is the decoder's to refuse; only a valid one (short,
	// of a safe charset) is quoted.
	if messages.ValidCommandID(route.Batch) && o.Batch != "" && route.Batch != o.Batch {
		return nil, nil, &LineError{Line: raw.number, Field: "batch", Reason: fmt.Sprintf("is %q, not this migration's batch %q", route.Batch, o.Batch)}
	}
	subject := o.Decode.Subjects.Command(route.Connection, route.Resource)
	cmd, err := messages.DecodeCommand(subject, raw.text, o.Decode)
	if err != nil {
		return nil, nil, lineErr(raw.number, err)
	}
	if o.Batch != "" && cmd.Batch != o.Batch {
		cmd.Batch = o.Batch
		return cmd, nil, nil // the batch is added: encode again
	}
	return cmd, raw.text, nil
}

// fromShortForm builds and validates a command from the short form.
func (o Options) fromShortForm(raw rawLine) (*messages.Command, []byte, error) {
	if field, reason := checkShortFormKeys(raw.text); reason != "" {
		return nil, nil, &LineError{Line: raw.number, Field: field, Reason: reason}
	}
	var sf ShortForm
	dec := json.NewDecoder(bytes.NewReader(raw.text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, nil, &LineError{Line: raw.number, Reason: "short form {connection, resource, changes, providerFields, sequence, id}: " + jsonReason(err)}
	}
	if dec.More() {
		return nil, nil, &LineError{Line: raw.number, Reason: "holds more than one JSON value"}
	}
	return o.build(raw.number, raw.text, sf)
}

// shortFormKeys are the keys of the short form, spelled exactly.
var shortFormKeys = []string{"connection", "resource", "changes", "providerFields", "sequence", "id"}

// checkShortFormKeys refuses what encoding/json would let through silently
// in a short-form line, where the worker's decoder refuses it in a full
// event: a key that is not a short-form key but for its letter case
// ("Changes"), and a duplicate key, at the top level or in providerFields
// (data.changes goes to the worker's decoder verbatim, which checks it). It
// returns the offending key and the reason, or "" when text, a JSON object,
// passes; a syntax error is left to the decoder.
func checkShortFormKeys(text []byte) (field, reason string) {
	dec := json.NewDecoder(bytes.NewReader(text))
	if _, err := dec.Token(); err != nil { // '{'
		return "", ""
	}
	var seen [6]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", ""
		}
		key, _ := tok.(string)
		i := slices.Index(shortFormKeys, key)
		if i < 0 {
			return shortKey(key), "unknown key; the short form's keys are " + strings.Join(shortFormKeys, ", ") + " (a full CloudEvent has specversion)"
		}
		if seen[i] {
			return key, "duplicate key"
		}
		seen[i] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return "", ""
		}
		if key == "providerFields" {
			if dup := duplicateKey(value); dup != "" {
				return "providerFields." + shortKey(dup), "duplicate key"
			}
		}
	}
	return "", ""
}

// duplicateKey returns the first key that the JSON object raw holds twice,
// or "" (also when raw is not an object).
func duplicateKey(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// shortKey is a key as an error may show it: at most 64 bytes, cut on a
// rune boundary.
func shortKey(key string) string {
	const limit = 64
	if len(key) <= limit {
		return key
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return key[:cut] + "…"
}

// Build validates a short-form command of line number (with content for
// the derived id) through the worker's decoder: the command is encoded as
// the worker will receive it and decoded again.
func (o Options) Build(number int, content []byte, sf ShortForm) (*messages.Command, error) {
	cmd, _, err := o.build(number, content, sf)
	return cmd, err
}

// FromShortForm is Build followed by what every line gets: the shared
// secret, Check, and the body to publish.
func (o Options) FromShortForm(number int, content []byte, sf ShortForm) Line {
	cmd, wire, err := o.build(number, content, sf)
	if err != nil {
		return Line{Number: number, Err: err}
	}
	return o.finish(number, cmd, wire)
}

// build is Build, also returning the body the decoder accepted.
func (o Options) build(number int, content []byte, sf ShortForm) (*messages.Command, []byte, error) {
	if !messages.ValidConnection(sf.Connection) {
		return nil, nil, &LineError{Line: number, Field: "connection", Reason: "must match [a-z0-9_-]{1,64}"}
	}
	if !messages.ValidResource(sf.Resource) {
		return nil, nil, &LineError{Line: number, Field: "resource", Reason: "must match [A-Za-z0-9_-]{1,128}"}
	}
	id := sf.ID
	switch {
	case id != "":
	case o.NewID != nil:
		id = o.NewID()
	default:
		id = DerivedID(o.Batch, number, content)
	}
	source := o.Source
	if source == "" {
		source = DefaultSource
	}
	ev := struct {
		SpecVersion     string `json:"specversion"`
		ID              string `json:"id"`
		Source          string `json:"source"`
		Type            string `json:"type"`
		DataContentType string `json:"datacontenttype"`
		Connection      string `json:"connection"`
		Resource        string `json:"resource"`
		Batch           string `json:"batch,omitempty"`
		Data            struct {
			Sequence       *int64                     `json:"sequence,omitempty"`
			Changes        json.RawMessage            `json:"changes"`
			ProviderFields map[string]json.RawMessage `json:"providerFields,omitempty"`
		} `json:"data"`
	}{messages.SpecVersion, id, source, messages.CommandType, messages.DataContentType,
		sf.Connection, sf.Resource, o.Batch, struct {
			Sequence       *int64                     `json:"sequence,omitempty"`
			Changes        json.RawMessage            `json:"changes"`
			ProviderFields map[string]json.RawMessage `json:"providerFields,omitempty"`
		}{sf.Sequence, sf.Changes, sf.ProviderFields}}
	if ev.Data.Changes == nil {
		ev.Data.Changes = json.RawMessage("{}")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, nil, &LineError{Line: number, Reason: "cannot encode: " + jsonReason(err)}
	}
	cmd, err := messages.DecodeCommand(o.Decode.Subjects.Command(sf.Connection, sf.Resource), body, o.Decode)
	if err != nil {
		return nil, nil, lineErr(number, err)
	}
	return cmd, body, nil
}

// DerivedID is the id of a line that gives none: the batch, the line number
// and 10 hex digits of the line's SHA-256, so that rereading the same file
// with the same batch gives the same ids, and an edited line a new one. It is
// at most 128 characters (a long batch is cut).
func DerivedID(batch string, line int, content []byte) string {
	sum := sha256.Sum256(content)
	tail := ":" + strconv.Itoa(line) + ":" + hex.EncodeToString(sum[:5])
	if len(batch)+len(tail) > 128 {
		batch = batch[:128-len(tail)]
	}
	return batch + tail
}

// lineErr turns a decoder refusal into a LineError.
func lineErr(number int, err error) error {
	if ie := (*messages.InvalidError)(nil); errors.As(err, &ie) {
		return &LineError{Line: number, Field: ie.Field, Reason: ie.Reason}
	}
	return &LineError{Line: number, Reason: err.Error()}
}

// jsonReason shortens an encoding/json error; such errors name types,
// offsets and keys, never a string's value.
func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// The syntax error's own text quotes the offending character,
		// which may belong to a secret: the offset says where.
		return fmt.Sprintf("invalid JSON near byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("%s must be %s, not a JSON %s", field, te.Type, te.Value)
	}
	return err.Error()
}

// refuseDuplicateIDs marks every line whose id an earlier line has.
func refuseDuplicateIDs(lines []Line) {
	first := make(map[string]int, len(lines))
	for i := range lines {
		l := &lines[i]
		if l.Err != nil {
			continue
		}
		if n, dup := first[l.Command.ID]; dup {
			l.Err = &LineError{Line: l.Number, Field: "id", Reason: fmt.Sprintf("is also the id of line %d; each command needs its own id", n)}
			l.Command, l.Body = nil, nil
			continue
		}
		first[l.Command.ID] = l.Number
	}
}

// Invalid returns the lines with an error.
func Invalid(lines []Line) []Line {
	var bad []Line
	for _, l := range lines {
		if l.Err != nil {
			bad = append(bad, l)
		}
	}
	return bad
}
