package httpx

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/redact"
)

// MaxWait caps the waits ParseRetryAfter and ParseRateLimitReset return: a
// provider asking for more than a day is treated as asking for a day.
const MaxWait = 24 * time.Hour

// MaxProviderMessage is how much of a provider's error text StatusError keeps
// (in bytes); the rest is cut with an ellipsis.
const MaxProviderMessage = 512

// Scrub returns s with every non-empty secret replaced by messages.Redacted,
// in every form redact.Scrubber knows: exact, JSON-, URL- and
// base64-encoded, hex, in any letter case, and any run of redact.MinRun
// bytes of those (a provider that cuts the secret leaks no part of it).
func Scrub(s string, secrets ...string) string {
	return redact.String(s, secrets...)
}

// ParseRetryAfter reads the Retry-After header (delta-seconds or HTTP-date,
// RFC 9110 §10.2.3) as a wait from now. ok is false when the header is
// absent or malformed. A date in the past is (0, true). The wait is never
// negative and at most MaxWait.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil { // only overflow is possible: a huge wait
			return MaxWait, true
		}
		if secs > int64(MaxWait/time.Second) {
			return MaxWait, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return clampWait(t.Sub(now)), true
}

// ParseRateLimitReset reads an X-RateLimit-Reset value: the moment the
// limit resets, as an epoch count of unit (time.Millisecond for Rocket.Chat,
// time.Second for jframework). It returns the wait from now; a moment in the
// past is (0, true). ok is false for an empty or malformed value or a
// non-positive unit. The wait is never negative and at most MaxWait.
func ParseRateLimitReset(value string, unit time.Duration, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(value)
	if unit <= 0 || !isDigits(v) {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return MaxWait, true // overflow: far in the future
	}
	// Work in units from now: reset-now = (n-nowN)*unit - r, where
	// now = nowN*unit + r (nanoseconds since the epoch).
	nowNs := now.UnixNano()
	nowN, r := nowNs/int64(unit), nowNs%int64(unit)
	if nowN < 0 { // before 1970: no meaningful epoch arithmetic
		return 0, false
	}
	diff := n - nowN
	if diff <= 0 {
		return 0, true
	}
	if diff > int64(MaxWait/unit)+1 {
		return MaxWait, true
	}
	return clampWait(time.Duration(diff)*unit - time.Duration(r)), true
}

func clampWait(d time.Duration) time.Duration {
	return min(max(d, 0), MaxWait)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidateSegment checks that id, which will be one path segment or query
// value, matches pattern (when not nil) and is not "", "." or "..". It returns
// nil or an adapters.Invalid error for field.
func ValidateSegment(field, id string, pattern *regexp.Regexp) error {
	if id == "" || id == "." || id == ".." {
		return adapters.Invalid(field, "%q is not a valid id", truncate(id, 128))
	}
	if pattern != nil && !pattern.MatchString(id) {
		return adapters.Invalid(field, "%q does not match %s", truncate(id, 128), pattern)
	}
	return nil
}

// ValidateSegmentFunc is ValidateSegment for an adapter that checks its
// pattern by hand on the hot path: valid must report exactly whether id
// matches pattern (which only names the pattern in the error, and is not
// run). Adapters fuzz valid against pattern.
func ValidateSegmentFunc(field, id string, valid func(string) bool, pattern *regexp.Regexp) error {
	if id == "" || id == "." || id == ".." {
		return adapters.Invalid(field, "%q is not a valid id", truncate(id, 128))
	}
	if !valid(id) {
		return adapters.Invalid(field, "%q does not match %s", truncate(id, 128), pattern)
	}
	return nil
}

// StatusError classifies a non-2xx response with the generic mapping:
// 401/403 → KindUnauthorized, 404 → KindNotFound, 408 → KindTimeout,
// 429 → KindRateLimited (RetryAfter from Retry-After), 5xx → KindUnavailable
// (RetryAfter from Retry-After on 503), 3xx (a redirect, never followed) and
// other 4xx → KindRejected. A 2xx (which is not an error) or a status outside
// 100–599 is KindUnavailable, "unexpected response". Adapters call it after
// their own provider-specific mapping.
//
// providerMessage is the provider's own error text; the caller must have
// scrubbed it (Client.Scrub). It is cut to MaxProviderMessage bytes.
func StatusError(resp *Response, providerMessage string) *adapters.Error {
	// writeCall: Response.Call is "<METHOD> <path>".
	writeCall := func(call string) bool {
		method, _, _ := strings.Cut(call, " ")
		return isWrite(method)
	}
	status := resp.Status
	e := &adapters.Error{HTTPStatus: status}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = adapters.KindUnauthorized
	case status == http.StatusNotFound:
		e.Kind = adapters.KindNotFound
	case status == http.StatusRequestTimeout:
		e.Kind = adapters.KindTimeout
		e.MayHaveWritten = writeCall(resp.Call)
	case status == http.StatusTooManyRequests:
		e.Kind = adapters.KindRateLimited
		e.RetryAfter, _ = ParseRetryAfter(resp.Header, time.Now())
	case status >= 500 && status <= 599:
		e.Kind = adapters.KindUnavailable
		e.MayHaveWritten = writeCall(resp.Call)
		if status == http.StatusServiceUnavailable {
			e.RetryAfter, _ = ParseRetryAfter(resp.Header, time.Now())
		}
	case status >= 300 && status <= 499:
		e.Kind = adapters.KindRejected
	default:
		e.Kind = adapters.KindUnavailable
		providerMessage = strings.TrimSpace("unexpected response " + providerMessage)
	}
	var b strings.Builder
	if resp.Call != "" {
		b.WriteString(resp.Call)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", status)
	if t := http.StatusText(status); t != "" {
		b.WriteString(" " + t)
	}
	if status >= 300 && status <= 399 {
		b.WriteString(" (redirects are not followed; check the connection's base URL)")
	}
	if m := strings.TrimSpace(providerMessage); m != "" {
		b.WriteString(": ")
		b.WriteString(truncate(m, MaxProviderMessage))
	}
	e.Message = b.String()
	return e
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
