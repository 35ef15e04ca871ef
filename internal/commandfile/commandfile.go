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
	"strconv"
	"sync"

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
// same ids).
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
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		raws = append(raws, rawLine{number: n, text: bytes.Clone(text)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d is longer than %d bytes", len(raws)+1, MaxLineBytes)
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
	var head struct {
		SpecVersion *json.RawMessage `json:"specversion"`
	}
	if err := json.Unmarshal(raw.text, &head); err != nil {
		line.Err = &LineError{Line: raw.number, Reason: "not a JSON object: " + jsonReason(err)}
		return line
	}
	var cmd *messages.Command
	var err error
	if head.SpecVersion != nil {
		cmd, err = o.fromEvent(raw)
	} else {
		cmd, err = o.fromShortForm(raw)
	}
	if err != nil {
		line.Err = err
		return line
	}
	return o.finish(raw.number, cmd)
}

// finish sets the shared client secret, runs Check and encodes cmd.
func (o Options) finish(number int, cmd *messages.Command) Line {
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
	body, err := cmd.Encode()
	if err != nil {
		line.Err = &LineError{Line: number, Reason: "cannot encode: " + err.Error()}
		return line
	}
	line.Command, line.Body = cmd, body
	return line
}

// fromEvent validates a full CloudEvent line: routed by its own connection
// and resource, and carrying the run's batch.
func (o Options) fromEvent(raw rawLine) (*messages.Command, error) {
	var route struct {
		Connection string `json:"connection"`
		Resource   string `json:"resource"`
		Batch      string `json:"batch"`
	}
	_ = json.Unmarshal(raw.text, &route) // errors surface in DecodeCommand
	if !messages.ValidConnection(route.Connection) {
		return nil, &LineError{Line: raw.number, Field: "connection", Reason: "must match [a-z0-9_-]{1,64}"}
	}
	if !messages.ValidResource(route.Resource) {
		return nil, &LineError{Line: raw.number, Field: "resource", Reason: "must match [A-Za-z0-9_-]{1,128}"}
	}
	if route.Batch != "" && o.Batch != "" && route.Batch != o.Batch {
		return nil, &LineError{Line: raw.number, Field: "batch", Reason: fmt.Sprintf("is %q, not this migration's batch %q", route.Batch, o.Batch)}
	}
	subject := o.Decode.Subjects.Command(route.Connection, route.Resource)
	cmd, err := messages.DecodeCommand(subject, raw.text, o.Decode)
	if err != nil {
		return nil, lineErr(raw.number, err)
	}
	if o.Batch != "" {
		cmd.Batch = o.Batch
	}
	return cmd, nil
}

// fromShortForm builds and validates a command from the short form.
func (o Options) fromShortForm(raw rawLine) (*messages.Command, error) {
	var sf ShortForm
	dec := json.NewDecoder(bytes.NewReader(raw.text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, &LineError{Line: raw.number, Reason: "short form {connection, resource, changes, providerFields, sequence, id}: " + jsonReason(err)}
	}
	if dec.More() {
		return nil, &LineError{Line: raw.number, Reason: "holds more than one JSON value"}
	}
	return o.Build(raw.number, raw.text, sf)
}

// Build validates a short-form command of line number (with content for
// the derived id) through the worker's decoder: the command is encoded as
// the worker will receive it and decoded again.
func (o Options) Build(number int, content []byte, sf ShortForm) (*messages.Command, error) {
	if !messages.ValidConnection(sf.Connection) {
		return nil, &LineError{Line: number, Field: "connection", Reason: "must match [a-z0-9_-]{1,64}"}
	}
	if !messages.ValidResource(sf.Resource) {
		return nil, &LineError{Line: number, Field: "resource", Reason: "must match [A-Za-z0-9_-]{1,128}"}
	}
	id := sf.ID
	if id == "" {
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
		return nil, &LineError{Line: number, Reason: "cannot encode: " + jsonReason(err)}
	}
	cmd, err := messages.DecodeCommand(o.Decode.Subjects.Command(sf.Connection, sf.Resource), body, o.Decode)
	if err != nil {
		return nil, lineErr(number, err)
	}
	return cmd, nil
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
