package messages

import (
	"strings"
	"time"
)

// Status is a command's terminal status (docs/CONTRACT.md §4).
type Status string

// The terminal statuses.
const (
	StatusApplied    Status = "applied"
	StatusUnchanged  Status = "unchanged"
	StatusSuperseded Status = "superseded"
	StatusRejected   Status = "rejected"
	StatusFailed     Status = "failed"
)

// ErrorCode classifies a result's error (docs/CONTRACT.md §4).
type ErrorCode string

// The error codes of a result.
const (
	CodeInvalidCommand       ErrorCode = "invalid_command"
	CodeUnknownConnection    ErrorCode = "unknown_connection"
	CodeUnsupportedField     ErrorCode = "unsupported_field"
	CodeIDConflict           ErrorCode = "id_conflict"
	CodeProviderRejected     ErrorCode = "provider_rejected"
	CodeProviderUnauthorized ErrorCode = "provider_unauthorized"
	CodeProviderNotFound     ErrorCode = "provider_not_found"
	CodeProviderUnavailable  ErrorCode = "provider_unavailable"
	CodeRateLimited          ErrorCode = "rate_limited"
	CodeTimeout              ErrorCode = "timeout"
	// CodeInternalError: the worker itself failed on this command (a
	// panic, say); the command is dead-lettered, never retried forever.
	CodeInternalError ErrorCode = "internal_error"
)

// Result is the data of a result event.
type Result struct {
	CommandID     string   `json:"commandId"`
	Connection    string   `json:"connection"`
	Provider      string   `json:"provider"`
	Resource      string   `json:"resource"`
	Batch         string   `json:"batch,omitempty"`
	Status        Status   `json:"status"`
	AppliedFields []string `json:"appliedFields"`
	SkippedFields []string `json:"skippedFields"`
	// SkippedOrderKeys holds, for each field of SkippedFields, the order
	// key that won: the higher key of the command that set the field
	// before (docs/CONTRACT.md §4: a skipped field is never silent).
	// Omitted when nothing was skipped.
	SkippedOrderKeys      map[string]int64 `json:"skippedOrderKeys,omitempty"`
	Attempts              int              `json:"attempts"`
	Deliveries            int              `json:"deliveries"`
	CommandStreamSequence uint64           `json:"commandStreamSequence"`
	StartedAt             time.Time        `json:"startedAt"`
	FinishedAt            time.Time        `json:"finishedAt"`
	// PayloadDigest identifies the payload this result answers
	// (docs/CONTRACT.md §4, "sha256:" and 64 hex digits); empty when the
	// command could not be read.
	PayloadDigest string       `json:"payloadDigest,omitempty"`
	Error         *ResultError `json:"error"`
}

// ResultError says why a command was rejected or failed.
type ResultError struct {
	Code       ErrorCode `json:"code"`
	Message    string    `json:"message"`
	HTTPStatus int       `json:"httpStatus,omitempty"`
	Retryable  bool      `json:"retryable"`
}

// ResultEvent is a result as a CloudEvents 1.0 event in structured JSON mode.
type ResultEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Subject         string    `json:"subject,omitempty"`
	Data            Result    `json:"data"`
}

// ResultEventID is the CloudEvents id (and Nats-Msg-Id) of the result of the
// command commandID. It depends on the command id only, so a result
// published twice is deduplicated by JetStream and by consumers.
func ResultEventID(commandID string) string { return "result-" + commandID }

// ConflictEventID is the id of the rejected/id_conflict result published for
// a command that reuses commandID with another payload, whose digest is
// payloadDigest (Command.PayloadDigest). It names the first 16 hex digits of
// that digest (after "sha256:"), so it never replaces the original command's
// result, and two conflicting payloads get two events. A secret enters the
// digest only keyed, so these digits cannot confirm a guess of a secret.
func ConflictEventID(commandID, payloadDigest string) string {
	h := strings.TrimPrefix(payloadDigest, DigestPrefix)
	if len(h) > 16 {
		h = h[:16]
	}
	return ResultEventID(commandID) + "-conflict-" + h
}

// ReplayResultEventID is the id of the result published for a replay of a
// dead-lettered command commandID: ResultEventID(commandID) followed by
// "-replay-" and replay, the replay's token (1 to 20 digits: the dead
// letter's stream sequence). A replay gets an id of its own so that its
// result is not dropped by JetStream's duplicate window as a repeat of the
// failed result; it still derives from the command id only (and the token).
func ReplayResultEventID(commandID, replay string) string {
	return ResultEventID(commandID) + "-replay-" + replay
}

// NewResultEvent wraps r in a result event from source ("/syncworker/<instance>"):
// id ResultEventID(r.CommandID), time r.FinishedAt, subject r.Resource. Nil
// AppliedFields and SkippedFields become empty lists, so that they encode as
// [] rather than null. For an id conflict, set the event's ID to
// ConflictEventID afterwards; for a replay, to ReplayResultEventID.
func NewResultEvent(source string, r Result) ResultEvent {
	if r.AppliedFields == nil {
		r.AppliedFields = []string{}
	}
	if r.SkippedFields == nil {
		r.SkippedFields = []string{}
	}
	return ResultEvent{
		SpecVersion:     SpecVersion,
		ID:              ResultEventID(r.CommandID),
		Source:          source,
		Type:            ResultType,
		Time:            r.FinishedAt,
		DataContentType: DataContentType,
		Subject:         r.Resource,
		Data:            r,
	}
}

// EncodeResultEvent returns the wire JSON of ev, to publish on
// Subjects.Result(connection, resource) with header Sync-Status. It refuses
// (with an *InvalidError) an event that DecodeResultEvent would refuse, so
// what it produces always matches ResultSchema. Nil field lists encode as [].
func EncodeResultEvent(ev ResultEvent) ([]byte, error) {
	if ev.Data.AppliedFields == nil {
		ev.Data.AppliedFields = []string{}
	}
	if ev.Data.SkippedFields == nil {
		ev.Data.SkippedFields = []string{}
	}
	if ie := validateResultEvent(&ev); ie != nil {
		return nil, ie
	}
	return appendResultEvent(make([]byte, 0, 1024), &ev)
}
