package adapters

import (
	"errors"
	"fmt"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

// Kind classifies an adapter failure. The worker decides from the Kind alone
// whether to retry; it never inspects error strings.
type Kind int

// The kinds of failure. Permanent kinds first.
const (
	// KindInvalid: the update breaks the provider's document (field, type,
	// pattern, enum, resource id). Permanent.
	KindInvalid Kind = iota + 1
	// KindUnsupported: a canonical field the provider has no place for. Permanent.
	KindUnsupported
	// KindRejected: the provider refused the request for good (4xx, a
	// failure envelope, a conflict). Permanent.
	KindRejected
	// KindUnauthorized: the provider refused the credentials (401, 403). Permanent.
	KindUnauthorized
	// KindNotFound: the remote object does not exist. Permanent.
	KindNotFound
	// KindUnavailable: network error, 5xx, garbage response. Retryable.
	KindUnavailable
	// KindRateLimited: 429 (RetryAfter holds the provider's wait, if sent). Retryable.
	KindRateLimited
	// KindTimeout: the call timed out (or 408). Retryable.
	KindTimeout
)

var kindNames = map[Kind]string{
	KindInvalid: "invalid", KindUnsupported: "unsupported", KindRejected: "rejected",
	KindUnauthorized: "unauthorized", KindNotFound: "not_found", KindUnavailable: "unavailable",
	KindRateLimited: "rate_limited", KindTimeout: "timeout",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Retryable reports whether a failure of this kind may succeed if tried again.
func (k Kind) Retryable() bool {
	return k == KindUnavailable || k == KindRateLimited || k == KindTimeout
}

// Code maps the kind to a result error code.
func (k Kind) Code() messages.ErrorCode {
	switch k {
	case KindInvalid:
		return messages.CodeInvalidCommand
	case KindUnsupported:
		return messages.CodeUnsupportedField
	case KindUnauthorized:
		return messages.CodeProviderUnauthorized
	case KindNotFound:
		return messages.CodeProviderNotFound
	case KindUnavailable:
		return messages.CodeProviderUnavailable
	case KindRateLimited:
		return messages.CodeRateLimited
	case KindTimeout:
		return messages.CodeTimeout
	default:
		return messages.CodeProviderRejected
	}
}

// Error is the one error type adapters return.
type Error struct {
	Kind Kind
	// Field names the offending field for KindInvalid and KindUnsupported.
	Field string
	// HTTPStatus is the provider's status code, 0 when no response was had.
	HTTPStatus int
	// RetryAfter is the wait the provider asked for (Retry-After,
	// X-RateLimit-Reset), 0 when it sent none.
	RetryAfter time.Duration
	// Message says what went wrong, with the provider's own error text.
	// It never contains a secret.
	Message string
	// Err is the underlying cause, if any (a network error). Its text is
	// not part of Error() unless the adapter put it into Message.
	Err error
	// MayHaveWritten is set when the failed call was a write (PUT, PATCH,
	// POST, DELETE) whose outcome is unknown: no answer came, or a 5xx or
	// 408 did, so the provider may have applied it. A later attempt that
	// finds the values in place is then this command's own write landing,
	// not "unchanged".
	MayHaveWritten bool
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Kind, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the failure is transient.
func (e *Error) Retryable() bool { return e.Kind.Retryable() }

// AsError returns err's *Error, if it has one.
func AsError(err error) (*Error, bool) {
	var ae *Error
	ok := errors.As(err, &ae)
	return ae, ok
}

// Invalid returns a KindInvalid error for field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Unsupported returns a KindUnsupported error for a canonical field the
// provider has no place for.
func Unsupported(provider, field string) *Error {
	return &Error{Kind: KindUnsupported, Field: field,
		Message: fmt.Sprintf("%s has no place for %q; the field is refused, not dropped", provider, field)}
}
