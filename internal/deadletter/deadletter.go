// Package deadletter lists dead letters and replays them for syncctl.
//
// A dead letter is a command the worker gave up on: its body verbatim and
// its original headers, plus the Sync-* headers that say why. Replaying
// publishes the body unchanged (so it keeps its command id) back to its
// command subject, marked with a Sync-Replay header carrying the dead
// letter's sequence: the worker then re-attempts a command whose stored
// outcome is failed, and treats every later copy as a duplicate, so however
// often a dead letter is replayed the command is applied at most once.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/messages"
)

// DefaultStream is the dead-letter stream's default name (docs/CONTRACT.md §2).
const DefaultStream = "SYNC_DEADLETTER"

// Headers the worker writes on a dead letter, and the replay marker.
const (
	HeaderErrorCode      = "Sync-Error-Code"
	HeaderError          = "Sync-Error"
	HeaderAttempts       = "Sync-Attempts"
	HeaderDeliveries     = "Sync-Deliveries"
	HeaderStreamSequence = "Sync-Stream-Sequence"
	HeaderSubject        = "Sync-Subject"
	HeaderReplay         = "Sync-Replay"
)

// Letter is one dead letter.
type Letter struct {
	Seq              uint64      `json:"seq"`
	Time             time.Time   `json:"time"`
	Subject          string      `json:"subject"`
	Connection       string      `json:"connection"`
	Resource         string      `json:"resource"`
	CommandID        string      `json:"commandId,omitempty"`
	Batch            string      `json:"batch,omitempty"`
	ErrorCode        string      `json:"errorCode"`
	Error            string      `json:"error"`
	Attempts         int         `json:"attempts"`
	Deliveries       int         `json:"deliveries"`
	CommandSubject   string      `json:"commandSubject,omitempty"`
	CommandStreamSeq uint64      `json:"commandStreamSequence,omitempty"`
	Header           nats.Header `json:"-"`
	Body             []byte      `json:"-"`
}

// Filter selects dead letters; empty fields match all.
type Filter struct {
	Connection, Resource, ErrorCode, Batch string
	// Seqs, when set, selects exactly these sequences.
	Seqs []uint64
}

// Match reports whether l passes the filter's error code and batch (List
// applies connection and resource through the subject).
func (f Filter) Match(l Letter) bool {
	if f.ErrorCode != "" && l.ErrorCode != f.ErrorCode {
		return false
	}
	if f.Batch != "" && l.Batch != f.Batch {
		return false
	}
	return true
}

// Store reads and replays dead letters.
type Store struct {
	JetStream jetstream.JetStream
	// Stream is the dead-letter stream. Default DefaultStream.
	Stream string
	// Subjects names the subjects. Default prefix "sync".
	Subjects messages.Subjects
}

func (s Store) stream() string {
	if s.Stream == "" {
		return DefaultStream
	}
	return s.Stream
}

// List returns the dead letters matching f, oldest first.
func (s Store) List(ctx context.Context, f Filter) ([]Letter, error) {
	if len(f.Seqs) > 0 {
		var out []Letter
		for _, seq := range f.Seqs {
			l, err := s.Get(ctx, seq)
			if err != nil {
				return nil, err
			}
			out = append(out, l)
		}
		return out, nil
	}
	conn, res := f.Connection, f.Resource
	if conn == "" {
		conn = "*"
	}
	if res == "" {
		res = "*"
	}
	// The dead letters stored now are the list: one stored after the last
	// sequence is past it. (Reading until no message is pending instead
	// never ends while commands keep failing.)
	st, err := s.JetStream.Stream(ctx, s.stream())
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", s.stream(), err)
	}
	last := st.CachedInfo().State.LastSeq
	cons, err := s.JetStream.OrderedConsumer(ctx, s.stream(), jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{s.Subjects.DeadLetter(conn, res)},
		InactiveThreshold: resultstream.InactiveThreshold,
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.stream(), err)
	}
	// Nothing is left on the stream once listed.
	defer resultstream.DeleteOrdered(ctx, s.JetStream, s.stream(), cons)
	var out []Letter
	if info := cons.CachedInfo(); last == 0 || info != nil && info.NumPending == 0 {
		return nil, nil
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.stream(), err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return out, fmt.Errorf("read %s: %w", s.stream(), err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return out, err
		}
		if meta.Sequence.Stream > last {
			return out, nil
		}
		l := s.letter(meta.Sequence.Stream, meta.Timestamp, msg.Subject(), msg.Headers(), msg.Data())
		if f.Match(l) {
			out = append(out, l)
		}
		if meta.NumPending == 0 || meta.Sequence.Stream >= last {
			return out, nil
		}
	}
}

// ErrNotFound is returned by Get for a sequence the stream does not hold.
var ErrNotFound = errors.New("no dead letter at that sequence")

// Get returns the dead letter at seq.
func (s Store) Get(ctx context.Context, seq uint64) (Letter, error) {
	st, err := s.JetStream.Stream(ctx, s.stream())
	if err != nil {
		return Letter{}, fmt.Errorf("stream %s: %w", s.stream(), err)
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Letter{}, fmt.Errorf("sequence %d: %w", seq, ErrNotFound)
	}
	if err != nil {
		return Letter{}, fmt.Errorf("sequence %d: %w", seq, err)
	}
	return s.letter(m.Sequence, m.Time, m.Subject, m.Header, m.Data), nil
}

func (s Store) letter(seq uint64, t time.Time, subject string, h nats.Header, body []byte) Letter {
	l := Letter{Seq: seq, Time: t, Subject: subject, Header: h, Body: body,
		ErrorCode: h.Get(HeaderErrorCode), Error: h.Get(HeaderError), CommandSubject: h.Get(HeaderSubject)}
	l.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempts))
	l.Deliveries, _ = strconv.Atoi(h.Get(HeaderDeliveries))
	l.CommandStreamSeq, _ = strconv.ParseUint(h.Get(HeaderStreamSequence), 10, 64)
	// <prefix>.deadletter.<connection>.<resource>
	if parts := strings.Split(subject, "."); len(parts) >= 4 {
		l.Connection, l.Resource = parts[len(parts)-2], parts[len(parts)-1]
	}
	var head struct {
		ID    string `json:"id"`
		Batch string `json:"batch"`
	}
	if json.Unmarshal(body, &head) == nil {
		if messages.ValidCommandID(head.ID) {
			l.CommandID = head.ID
		}
		if messages.ValidCommandID(head.Batch) {
			l.Batch = head.Batch
		}
	}
	return l
}

// ReplayMsgID is the Nats-Msg-Id of a replay of the dead letter at seq of
// command id: replaying one dead letter twice within JetStream's duplicate
// window stores it once.
func ReplayMsgID(commandID string, seq uint64) string {
	return commandID + ".replay-" + strconv.FormatUint(seq, 10)
}

// ErrNotReplayable is returned for a dead letter that names no command: its
// subject or id could not be read, so the worker could only refuse it again.
var ErrNotReplayable = errors.New("not replayable")

// dropOnReplay are the dead letter's own headers, which a replay leaves out
// (in any letter case, as the worker reads headers), beside every Nats-*.
var dropOnReplay = []string{HeaderErrorCode, HeaderError, HeaderAttempts, HeaderDeliveries, HeaderSubject, HeaderReplay}

// ReplayMessage builds the message that replays l: the body verbatim on the
// command's subject (its bulk subject when it came from the bulk lane), the
// original headers without the dead letter's own, and Sync-Replay: <seq>.
// A dead letter whose command subject (Sync-Subject) could not be read is
// not replayable: the worker files it under a made-up connection
// (_unroutable) and resource (its sequence), which name no command subject.
func (s Store) ReplayMessage(l Letter) (*nats.Msg, error) {
	if l.CommandID == "" || !messages.ValidConnection(l.Connection) || !messages.ValidResource(l.Resource) {
		return nil, fmt.Errorf("dead letter %d: %w: its command id, connection or resource cannot be read", l.Seq, ErrNotReplayable)
	}
	if l.CommandSubject != "" {
		if conn, res, err := s.Subjects.ParseCommand(l.CommandSubject); err != nil || conn != l.Connection || res != l.Resource {
			return nil, fmt.Errorf("dead letter %d: %w: its command subject %q is not %s", l.Seq, ErrNotReplayable,
				l.CommandSubject, s.Subjects.Command(l.Connection, l.Resource))
		}
	}
	subject := s.Subjects.Command(l.Connection, l.Resource)
	if s.Subjects.IsBulk(l.CommandSubject) { // replayed in the lane it came from
		subject = s.Subjects.BulkCommand(l.Connection, l.Resource)
	}
	msg := nats.NewMsg(subject)
	for k, v := range l.Header {
		if len(k) >= len("Nats-") && strings.EqualFold(k[:len("Nats-")], "Nats-") ||
			slices.ContainsFunc(dropOnReplay, func(h string) bool { return strings.EqualFold(h, k) }) {
			continue
		}
		msg.Header[k] = append([]string(nil), v...)
	}
	msg.Header.Set(HeaderReplay, strconv.FormatUint(l.Seq, 10))
	msg.Data = l.Body
	return msg, nil
}

// Replay publishes the replay of l and waits for its ack. duplicate
// reports that JetStream already held this replay (replayed before, within
// its duplicate window).
func (s Store) Replay(ctx context.Context, l Letter) (duplicate bool, err error) {
	msg, err := s.ReplayMessage(l)
	if err != nil {
		return false, err
	}
	ack, err := s.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(ReplayMsgID(l.CommandID, l.Seq)))
	if err != nil {
		return false, fmt.Errorf("replay dead letter %d: %w", l.Seq, err)
	}
	return ack.Duplicate, nil
}

// Delete removes the dead letter at seq.
func (s Store) Delete(ctx context.Context, seq uint64) error {
	st, err := s.JetStream.Stream(ctx, s.stream())
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.stream(), err)
	}
	if err := st.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	return nil
}

// Redacted returns the dead letter's body as indented JSON with every value
// under a key that names a secret (redact.SecretKey: clientSecret, password,
// api_key, private_key, token, ...) at any depth replaced by [REDACTED], and
// those values scrubbed from every other string; a body that is not JSON is
// described, not shown.
func Redacted(body []byte) []byte {
	out, ok := redact.RedactJSON(body, nil, "  ")
	if !ok {
		return []byte(fmt.Sprintf("(%d bytes that are not JSON; not shown, they may hold a secret)", len(body)))
	}
	return out
}

// Redact returns l for display (syncctl dlq list and show): its body
// Redacted, every secret-named header (Authorization, Cookie, X-Api-Key,
// Auth-Key, ...) [REDACTED], and the other headers and the error text
// scrubbed of every secret the body carries, in any encoding (a dead letter
// written by a worker with a weaker scrubber is shown safe too). Never
// replay the Letter it returns: replay the stored one.
func (l Letter) Redact() Letter {
	s := redact.New(redact.SecretsInJSON(l.Body)...)
	l.Header = nats.Header(redact.Header(l.Header, s))
	l.Error = s.String(l.Error)
	l.Body = Redacted(l.Body)
	return l
}
