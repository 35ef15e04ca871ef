package httpx_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999999", httpx.MaxWait, true},
		{"86401", httpx.MaxWait, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second, true},
		{now.Add(30 * 24 * time.Hour).Format(http.TimeFormat), httpx.MaxWait, true},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		got, ok := httpx.ParseRetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseRateLimitReset(t *testing.T) {
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	sec := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	for _, tc := range []struct {
		value string
		unit  time.Duration
		want  time.Duration
		ok    bool
	}{
		{ms(1500 * time.Millisecond), time.Millisecond, 1500 * time.Millisecond, true},
		{ms(42 * time.Second), time.Millisecond, 42 * time.Second, true},
		{ms(-time.Second), time.Millisecond, 0, true},
		{ms(0), time.Millisecond, 0, true},
		{sec(60 * time.Second), time.Second, time.Minute, true},
		{sec(-60 * time.Second), time.Second, 0, true},
		{"1377012333", time.Second, 0, true}, // jframework's documented example: long past
		{" " + ms(time.Second) + " ", time.Millisecond, time.Second, true},
		{"", time.Millisecond, 0, false},
		{"-1", time.Millisecond, 0, false},
		{"12.5", time.Second, 0, false},
		{"abc", time.Second, 0, false},
		{ms(time.Second), 0, 0, false},
		{"9223372036854775807", time.Millisecond, httpx.MaxWait, true},
		{"9223372036854775807", time.Second, httpx.MaxWait, true},
		{"99999999999999999999999", time.Second, httpx.MaxWait, true},
		{ms(48 * time.Hour), time.Millisecond, httpx.MaxWait, true},
	} {
		got, ok := httpx.ParseRateLimitReset(tc.value, tc.unit, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRateLimitReset(%q, %v) = %v, %v; want %v, %v", tc.value, tc.unit, got, ok, tc.want, tc.ok)
		}
	}
	// Sub-unit precision: now is mid-millisecond.
	mid := now.Add(400 * time.Microsecond)
	got, _ := httpx.ParseRateLimitReset(ms(time.Second), time.Millisecond, mid)
	if want := time.Second - 400*time.Microsecond; got != want {
		t.Errorf("mid-unit: got %v, want %v", got, want)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "1e9", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "99999999999999999999"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		h := http.Header{}
		h.Set("Retry-After", v)
		d, ok := httpx.ParseRetryAfter(h, time.Unix(nowUnix%(1<<40), 0))
		if d < 0 || d > httpx.MaxWait || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

func FuzzParseRateLimitReset(f *testing.F) {
	for _, s := range []string{"", "0", "1377012333", "1732269600000", "-1", "9223372036854775807", "1.5"} {
		f.Add(s, int64(time.Millisecond), int64(1732269600))
		f.Add(s, int64(time.Second), int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, unit, nowUnix int64) {
		d, ok := httpx.ParseRateLimitReset(v, time.Duration(unit), time.Unix(nowUnix%(1<<40), 0))
		if d < 0 || d > httpx.MaxWait || (!ok && d != 0) {
			t.Fatalf("ParseRateLimitReset(%q, %d) = %v, %v", v, unit, d, ok)
		}
	})
}

func TestStatusError(t *testing.T) {
	for _, tc := range []struct {
		status     int
		header     http.Header
		kind       adapters.Kind
		retryAfter time.Duration
	}{
		{301, nil, adapters.KindRejected, 0},
		{302, nil, adapters.KindRejected, 0},
		{400, nil, adapters.KindRejected, 0},
		{401, nil, adapters.KindUnauthorized, 0},
		{403, nil, adapters.KindUnauthorized, 0},
		{404, nil, adapters.KindNotFound, 0},
		{408, nil, adapters.KindTimeout, 0},
		{409, nil, adapters.KindRejected, 0},
		{422, nil, adapters.KindRejected, 0},
		{429, http.Header{"Retry-After": {"3"}}, adapters.KindRateLimited, 3 * time.Second},
		{429, nil, adapters.KindRateLimited, 0},
		{500, nil, adapters.KindUnavailable, 0},
		{502, http.Header{"Retry-After": {"3"}}, adapters.KindUnavailable, 0},
		{503, http.Header{"Retry-After": {"4"}}, adapters.KindUnavailable, 4 * time.Second},
		{599, nil, adapters.KindUnavailable, 0},
		{200, nil, adapters.KindUnavailable, 0},
		{209, nil, adapters.KindUnavailable, 0},
		{0, nil, adapters.KindUnavailable, 0},
		{700, nil, adapters.KindUnavailable, 0},
	} {
		resp := &httpx.Response{Status: tc.status, Header: tc.header, Call: "GET /x"}
		e := httpx.StatusError(resp, "provider said no")
		if e.Kind != tc.kind || e.RetryAfter != tc.retryAfter || e.HTTPStatus != tc.status {
			t.Errorf("%d: got %s/%v/%d, want %s/%v", tc.status, e.Kind, e.RetryAfter, e.HTTPStatus, tc.kind, tc.retryAfter)
		}
		if !strings.HasPrefix(e.Message, "GET /x: HTTP "+strconv.Itoa(tc.status)) || !strings.Contains(e.Message, "provider said no") {
			t.Errorf("%d: message = %q", tc.status, e.Message)
		}
	}
	long := strings.Repeat("é", httpx.MaxProviderMessage)
	e := httpx.StatusError(&httpx.Response{Status: 400}, long)
	if len(e.Message) > httpx.MaxProviderMessage+64 || !strings.HasSuffix(e.Message, "…") {
		t.Errorf("long provider message not cut: %d bytes", len(e.Message))
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct {
		in      string
		secrets []string
		want    string
	}{
		{"token abc123 used", []string{"abc123"}, "token [REDACTED] used"},
		{"abc123abc123", []string{"abc123"}, "[REDACTED][REDACTED]"},
		{"nothing here", []string{"abc123", ""}, "nothing here"},
		{"long-secret and long", []string{"long", "long-secret"}, "[REDACTED] and [REDACTED]"},
		{`{"error":"bad \"q\" value"}`, []string{`bad "q"`}, `{"error":"[REDACTED] value"}`},
		{"", []string{"x"}, ""},
		{"keep", nil, "keep"},
		// Encoded, cased and cut echoes (the scrubber before redact kept these).
		{"echo Y2xpZW50LVNlY3JldC05OQ== back", []string{"client-Secret-99"}, "echo [REDACTED] back"},
		{"key=client-Secret-99%21", []string{"client-Secret-99!"}, "key=[REDACTED]"},
		{"CLIENT-SECRET-99 refused", []string{"client-Secret-99"}, "[REDACTED] refused"},
		{"secret client-Se… too long", []string{"client-Secret-99"}, "secret [REDACTED]… too long"},
	} {
		if got := httpx.Scrub(tc.in, tc.secrets...); got != tc.want {
			t.Errorf("Scrub(%q, %q) = %q, want %q", tc.in, tc.secrets, got, tc.want)
		}
	}
	c := newClient(t, httpx.Config{BaseURL: "https://x.example", Secrets: []string{"cfg", ""}})
	if got := c.Scrub("cfg and extra", "extra"); got != "[REDACTED] and [REDACTED]" {
		t.Errorf("Client.Scrub = %q", got)
	}
}

func TestValidateSegment(t *testing.T) {
	p := regexp.MustCompile(`^[a-f0-9]{4}$`)
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"ab12", true}, {"AB12", false}, {"", false}, {".", false}, {"..", false}, {"ab12/", false},
	} {
		err := httpx.ValidateSegment("resource", tc.id, p)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateSegment(%q) = %v", tc.id, err)
		}
		if err != nil {
			if ae, _ := adapters.AsError(err); ae == nil || ae.Kind != adapters.KindInvalid || ae.Field != "resource" {
				t.Errorf("ValidateSegment(%q) = %#v", tc.id, err)
			}
		}
	}
	if err := httpx.ValidateSegment("resource", "anything?", nil); err != nil {
		t.Errorf("nil pattern: %v", err)
	}
	if err := httpx.ValidateSegment("resource", "..", nil); err == nil {
		t.Error("nil pattern accepted ..")
	}
}

// TestStatusErrorMayHaveWritten: a write answered 5xx or 408 may have
// landed; a read, or a write refused with a 4xx or 429, did not.
func TestStatusErrorMayHaveWritten(t *testing.T) {
	for _, c := range []struct {
		call   string
		status int
		want   bool
	}{
		{"PUT /api/mgmt/oauthapps/93", 502, true},
		{"PATCH /v2/datasources/oauth/x", 500, true},
		{"POST /api/v1/oauth-apps.update", 408, true},
		{"GET /api/v1/oauth-apps.get", 502, false},
		{"PUT /api/mgmt/oauthapps/93", 429, false},
		{"PUT /api/mgmt/oauthapps/93", 400, false},
	} {
		if got := httpx.StatusError(&httpx.Response{Status: c.status, Call: c.call}, "").MayHaveWritten; got != c.want {
			t.Errorf("%s answered %d: MayHaveWritten = %v, want %v", c.call, c.status, got, c.want)
		}
	}
}

func TestValidateSegmentFunc(t *testing.T) {
	p := regexp.MustCompile(`^[a-f0-9]{4}$`)
	valid := func(s string) bool {
		if len(s) != 4 {
			return false
		}
		for i := 0; i < len(s); i++ {
			if !(s[i] >= 'a' && s[i] <= 'f' || s[i] >= '0' && s[i] <= '9') {
				return false
			}
		}
		return true
	}
	for _, id := range []string{"ab12", "AB12", "", ".", "..", "ab12/", "ab1", "ab123", "ab\x001"} {
		got, want := httpx.ValidateSegmentFunc("resource", id, valid, p), httpx.ValidateSegment("resource", id, p)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Errorf("ValidateSegmentFunc(%q) = %v, ValidateSegment = %v", id, got, want)
		}
	}
	if err := httpx.ValidateSegmentFunc("resource", "..", func(string) bool { return true }, p); err == nil {
		t.Error("ValidateSegmentFunc accepted ..")
	}
}
