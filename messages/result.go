package messages

import "time"

// Status is a command's terminal status (CONTRACT §4).
type Status string

// The terminal statuses.
const (
	StatusApplied    Status = "applied"
	StatusUnchanged  Status = "unchanged"
	StatusSuperseded Status = "superseded"
	StatusRejected   Status = "rejected"
	StatusFailed     Status = "failed"
)

// ErrorCode classifies a result's error (CONTRACT §4).
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
)

// Result is the data of a result event.
type Result struct {
	CommandID             string       `json:"commandId"`
	Connection            string       `json:"connection"`
	Provider              string       `json:"provider"`
	Resource              string       `json:"resource"`
	Batch                 string       `json:"batch,omitempty"`
	Status                Status       `json:"status"`
	AppliedFields         []string     `json:"appliedFields"`
	SkippedFields         []string     `json:"skippedFields"`
	Attempts              int          `json:"attempts"`
	Deliveries            int          `json:"deliveries"`
	CommandStreamSequence uint64       `json:"commandStreamSequence"`
	StartedAt             time.Time    `json:"startedAt"`
	FinishedAt            time.Time    `json:"finishedAt"`
	Error                 *ResultError `json:"error"`
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
