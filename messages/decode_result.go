package messages

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// statuses are the terminal statuses, in contract order.
var statuses = []Status{StatusApplied, StatusUnchanged, StatusSuperseded, StatusRejected, StatusFailed}

// errorCodes are the result error codes, in contract order.
var errorCodes = []ErrorCode{
	CodeInvalidCommand, CodeUnknownConnection, CodeUnsupportedField, CodeIDConflict,
	CodeProviderRejected, CodeProviderUnauthorized, CodeProviderNotFound,
	CodeProviderUnavailable, CodeRateLimited, CodeTimeout, CodeInternalError,
}

// Valid reports whether s is one of the five terminal statuses.
func (s Status) Valid() bool { return slices.Contains(statuses, s) }

// Valid reports whether c is one of the ten error codes.
func (c ErrorCode) Valid() bool { return slices.Contains(errorCodes, c) }

var (
	// providerNamePattern is an adapter name; a result names no provider
	// ("") when the connection is unknown.
	providerNamePattern = regexp.MustCompile(`^[a-z0-9_-]{0,64}$`)
	// resultFieldPattern is an entry of appliedFields or skippedFields.
	resultFieldPattern = regexp.MustCompile(`^(name|description|clientId|clientSecret|redirectUri|scopes|authorizeUrl|tokenUrl|active|providerFields\.[A-Za-z][A-Za-z0-9_]{0,63})$`)
	// conflictSuffixPattern ends the id of an id_conflict result.
	conflictSuffixPattern = regexp.MustCompile(`^-conflict-[0-9a-f]{16}$`)
	// payloadDigestPattern is a result's payloadDigest.
	payloadDigestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// replaySuffixPattern ends the id of a replayed command's result.
	replaySuffixPattern = regexp.MustCompile(`^-replay-[0-9]{1,20}$`)
)

var (
	resultEventKeys = []string{"specversion", "id", "source", "type", "time", "datacontenttype", "subject", "data"}
	resultKeys      = []string{
		"commandId", "connection", "provider", "resource", "batch", "status",
		"appliedFields", "skippedFields", "skippedOrderKeys", "attempts", "deliveries",
		"commandStreamSequence", "startedAt", "finishedAt", "payloadDigest", "error",
	}
	resultErrorKeys = []string{"code", "message", "httpStatus", "retryable"}
)

// DecodeResultEvent decodes and validates a result event strictly: a single
// JSON object, no unknown or duplicate key at any level, no null but for
// data.error, type ResultType, a known status and, when error is set, a known
// error code; the id must derive from data.commandId (ResultEventID,
// ConflictEventID or ReplayResultEventID). On refusal it returns an *InvalidError.
func DecodeResultEvent(body []byte) (*ResultEvent, error) {
	ev, ie := decodeResultEvent(body)
	if ie != nil {
		return nil, ie
	}
	return ev, nil
}

func decodeResultEvent(body []byte) (*ResultEvent, *InvalidError) {
	top, ie := parseTop(body, resultEventKeys...)
	if ie != nil {
		return nil, ie
	}
	ev := &ResultEvent{}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"specversion", &ev.SpecVersion},
		{"type", &ev.Type},
		{"id", &ev.ID},
		{"source", &ev.Source},
		{"datacontenttype", &ev.DataContentType},
	} {
		if *f.dst, ie = requiredString(top, f.key); ie != nil {
			return nil, ie
		}
	}
	v, ie := top.require("time")
	if ie != nil {
		return nil, ie
	}
	if ev.Time, ie = decodeTime(v, "time"); ie != nil {
		return nil, ie
	}
	if v, ok := top.get("subject"); ok {
		if ev.Subject, ie = decodeString(v, "subject"); ie != nil {
			return nil, ie
		}
		if ev.Subject == "" {
			return nil, invalid("subject", "must not be empty when present")
		}
	}
	if v, ie = top.require("data"); ie != nil {
		return nil, ie
	}
	if ev.Data, ie = decodeResult(v); ie != nil {
		return nil, ie
	}
	if ie := validateResultEvent(ev); ie != nil {
		return nil, ie
	}
	return ev, nil
}

// decodeResult reads a result event's data, checking JSON types only.
func decodeResult(raw []byte) (Result, *InvalidError) {
	var r Result
	o, ie := parseObject(raw, "data")
	if ie != nil {
		return r, ie
	}
	if ie := o.only(resultKeys...); ie != nil {
		return r, ie
	}
	var status string
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"commandId", &r.CommandID},
		{"connection", &r.Connection},
		{"provider", &r.Provider},
		{"resource", &r.Resource},
		{"status", &status},
	} {
		if *f.dst, ie = requiredString(o, f.key); ie != nil {
			return r, ie
		}
	}
	r.Status = Status(status)
	if v, ok := o.get("batch"); ok {
		if r.Batch, ie = decodeString(v, "data.batch"); ie != nil {
			return r, ie
		}
		if r.Batch == "" {
			return r, invalid("data.batch", "must not be empty when present")
		}
	}
	for _, f := range []struct {
		key string
		dst *[]string
	}{
		{"appliedFields", &r.AppliedFields},
		{"skippedFields", &r.SkippedFields},
	} {
		v, ie := o.require(f.key)
		if ie != nil {
			return r, ie
		}
		if *f.dst, ie = decodeStrings(v, o.at(f.key), nil); ie != nil {
			return r, ie
		}
	}
	for _, f := range []struct {
		key string
		dst *int
	}{
		{"attempts", &r.Attempts},
		{"deliveries", &r.Deliveries},
	} {
		v, ie := o.require(f.key)
		if ie != nil {
			return r, ie
		}
		n, ie := decodeInt(v, o.at(f.key), 0, math.MaxInt32)
		if ie != nil {
			return r, ie
		}
		*f.dst = int(n)
	}
	if v, ok := o.get("skippedOrderKeys"); ok {
		if r.SkippedOrderKeys, ie = decodeOrderKeys(v, o.at("skippedOrderKeys")); ie != nil {
			return r, ie
		}
	}
	if v, ok := o.get("payloadDigest"); ok {
		if jsonKind(v) != "string" {
			return r, invalid("data.payloadDigest", wrongKind("a string", v))
		}
		if err := json.Unmarshal(v, &r.PayloadDigest); err != nil {
			return r, invalid("data.payloadDigest", "must be a valid JSON string")
		}
	}
	v, ie := o.require("commandStreamSequence")
	if ie != nil {
		return r, ie
	}
	if r.CommandStreamSequence, ie = decodeUint(v, "data.commandStreamSequence"); ie != nil {
		return r, ie
	}
	for _, f := range []struct {
		key string
		dst *time.Time
	}{
		{"startedAt", &r.StartedAt},
		{"finishedAt", &r.FinishedAt},
	} {
		v, ie := o.require(f.key)
		if ie != nil {
			return r, ie
		}
		if *f.dst, ie = decodeTime(v, o.at(f.key)); ie != nil {
			return r, ie
		}
	}
	if v, ie = o.require("error"); ie != nil {
		return r, ie
	}
	if jsonKind(v) != "null" {
		if r.Error, ie = decodeResultError(v); ie != nil {
			return r, ie
		}
	}
	return r, nil
}

// decodeOrderKeys reads data.skippedOrderKeys: an object of integers.
func decodeOrderKeys(raw []byte, field string) (map[string]int64, *InvalidError) {
	if jsonKind(raw) != "object" {
		return nil, invalid(field, wrongKind("an object", raw))
	}
	o, ie := parseObject(raw, field)
	if ie != nil {
		return nil, ie
	}
	keys := make(map[string]int64, len(o.keys))
	for _, k := range o.keys {
		v, _ := o.get(k)
		n, ie := decodeInt(v, o.at(k), math.MinInt64, math.MaxInt64)
		if ie != nil {
			return nil, ie
		}
		keys[k] = n
	}
	return keys, nil
}

// decodeResultError reads data.error, checking JSON types only.
func decodeResultError(raw []byte) (*ResultError, *InvalidError) {
	if jsonKind(raw) != "object" {
		return nil, invalid("data.error", wrongKind("an object or null", raw))
	}
	o, ie := parseObject(raw, "data.error")
	if ie != nil {
		return nil, ie
	}
	if ie := o.only(resultErrorKeys...); ie != nil {
		return nil, ie
	}
	e := &ResultError{}
	code, ie := requiredString(o, "code")
	if ie != nil {
		return nil, ie
	}
	e.Code = ErrorCode(code)
	v, ie := o.require("message")
	if ie != nil {
		return nil, ie
	}
	if jsonKind(v) != "string" {
		return nil, invalid("data.error.message", wrongKind("a string", v))
	}
	if err := json.Unmarshal(v, &e.Message); err != nil {
		return nil, invalid("data.error.message", "must be a valid JSON string")
	}
	if v, ok := o.get("httpStatus"); ok {
		n, ie := decodeInt(v, "data.error.httpStatus", 100, 599)
		if ie != nil {
			return nil, ie
		}
		e.HTTPStatus = int(n)
	}
	v, ie = o.require("retryable")
	if ie != nil {
		return nil, ie
	}
	if e.Retryable, ie = decodeBool(v, "data.error.retryable"); ie != nil {
		return nil, ie
	}
	return e, nil
}

// validateResultEvent checks what the JSON types cannot say; it is shared by
// EncodeResultEvent and DecodeResultEvent.
func validateResultEvent(ev *ResultEvent) *InvalidError {
	switch {
	case ev.SpecVersion != SpecVersion:
		return invalidf("specversion", "must be %q, got %q", SpecVersion, shorten(ev.SpecVersion))
	case ev.Type != ResultType:
		return invalidf("type", "must be %q, got %q", ResultType, shorten(ev.Type))
	case ev.Source == "":
		return invalid("source", "must be a non-empty URI-reference")
	case utf8.RuneCountInString(ev.Source) > maxStringChars:
		return invalidf("source", "must be at most %d characters long", maxStringChars)
	case ev.DataContentType != DataContentType:
		return invalidf("datacontenttype", "must be %q, got %q", DataContentType, shorten(ev.DataContentType))
	case utf8.RuneCountInString(ev.Subject) > maxStringChars:
		return invalidf("subject", "must be at most %d characters long", maxStringChars)
	}
	r := &ev.Data
	switch {
	case !ValidCommandID(r.CommandID):
		return invalidf("data.commandId", "must match %s", idPattern)
	case !ValidConnection(r.Connection):
		return invalidf("data.connection", "must match %s", connectionPattern)
	case !isProviderName(r.Provider):
		return invalidf("data.provider", "must match %s", providerNamePattern)
	case !ValidResource(r.Resource):
		return invalidf("data.resource", "must match %s", resourcePattern)
	case r.Batch != "" && !ValidCommandID(r.Batch):
		return invalidf("data.batch", "must match %s", idPattern)
	case !r.Status.Valid():
		return invalidf("data.status", "must be one of %s, got %q", joinStatuses(), shorten(string(r.Status)))
	case r.Attempts < 0 || r.Attempts > math.MaxInt32:
		return invalidf("data.attempts", "must be an integer between 0 and %d", math.MaxInt32)
	case r.Deliveries < 0 || r.Deliveries > math.MaxInt32:
		return invalidf("data.deliveries", "must be an integer between 0 and %d", math.MaxInt32)
	}
	if id, ok := strings.CutPrefix(ev.ID, ResultEventID(r.CommandID)); !ok ||
		(id != "" && !isConflictSuffix(id) && !isReplaySuffix(id)) {
		return invalidf("id", "must be %q, or that followed by -conflict- and 16 hex digits of the payload hash, or by -replay- and 1 to 20 digits", ResultEventID(r.CommandID))
	}
	for _, f := range []struct {
		name   string
		fields []string
	}{
		{"data.appliedFields", r.AppliedFields},
		{"data.skippedFields", r.SkippedFields},
	} {
		for i, name := range f.fields {
			if !isResultField(name) {
				return invalidf(fmt.Sprintf("%s[%d]", f.name, i), "must be a canonical field name or %s<name>, matching %s", ProviderFieldPrefix, resultFieldPattern)
			}
		}
	}
	for name := range r.SkippedOrderKeys {
		if !slices.Contains(r.SkippedFields, name) {
			return invalidf("data.skippedOrderKeys", "names %q, which is not in data.skippedFields", shorten(name))
		}
	}
	if r.PayloadDigest != "" && !isPayloadDigest(r.PayloadDigest) {
		return invalidf("data.payloadDigest", "must match %s", payloadDigestPattern)
	}
	if e := r.Error; e != nil {
		switch {
		case !e.Code.Valid():
			return invalidf("data.error.code", "must be one of %s, got %q", joinCodes(), shorten(string(e.Code)))
		case e.HTTPStatus != 0 && (e.HTTPStatus < 100 || e.HTTPStatus > 599):
			return invalid("data.error.httpStatus", "must be an HTTP status between 100 and 599, or absent")
		}
	}
	return nil
}

func joinStatuses() string {
	s := make([]string, len(statuses))
	for i, st := range statuses {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func joinCodes() string {
	s := make([]string, len(errorCodes))
	for i, c := range errorCodes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
