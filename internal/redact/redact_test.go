package redact_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/messages"
)

const canary = "Canary+S3cr3t/Value=42&x"

func TestMarkerIsMessagesRedacted(t *testing.T) {
	if redact.Marker != messages.Redacted {
		t.Fatalf("redact.Marker %q != messages.Redacted %q", redact.Marker, messages.Redacted)
	}
}

func b64(e *base64.Encoding, s string) string { return e.EncodeToString([]byte(s)) }

// TestScrubEncodings: every encoding a provider may echo is redacted, and
// nothing of the secret's runs of MinRun bytes stays.
func TestScrubEncodings(t *testing.T) {
	jsonEsc := func(s string) string { b, _ := json.Marshal(s); return string(b[1 : len(b)-1]) }
	quoted := `Q"uo\te<d>` + "\n" + `secret!`
	cases := []struct {
		name, secret, text string
	}{
		{"exact", canary, "provider said: bad secret " + canary + " (400)"},
		{"json escaped", quoted, `{"error":"invalid ` + jsonEsc(quoted) + `"}`},
		{"query escaped", canary, "GET /x?client_secret=" + url.QueryEscape(canary) + "&a=b"},
		{"path escaped", canary, "no app at /apps/" + url.PathEscape(canary)},
		{"base64 std", canary, "got " + b64(base64.StdEncoding, canary)},
		{"base64 url", canary, "got " + b64(base64.URLEncoding, canary)},
		{"base64 raw std", canary, "got " + b64(base64.RawStdEncoding, canary) + "."},
		{"base64 raw url", canary, "got " + b64(base64.RawURLEncoding, canary) + "."},
		{"basic auth offset 0", canary, "Authorization: Basic " + b64(base64.StdEncoding, canary+":user")},
		{"basic auth offset 1", canary, "Authorization: Basic " + b64(base64.StdEncoding, "u:"+canary)},
		{"basic auth offset 2", canary, "Authorization: Basic " + b64(base64.StdEncoding, "us:"+canary)},
		{"basic auth offset 3", canary, "Authorization: Basic " + b64(base64.StdEncoding, "usr:"+canary)},
		{"hex", canary, "hash input " + hex.EncodeToString([]byte(canary))},
		{"hex upper", canary, "hash input " + strings.ToUpper(hex.EncodeToString([]byte(canary)))},
		{"upper case", canary, "SECRET " + strings.ToUpper(canary) + " REFUSED"},
		{"lower case", canary, "secret " + strings.ToLower(canary) + " refused"},
		{"truncated head", canary, "secret " + canary[:9] + "… too long"},
		{"truncated tail", canary, "…" + canary[len(canary)-9:] + " is not valid"},
		{"middle", canary, "x" + canary[5:15] + "x"},
		{"truncated base64", canary, "blob " + b64(base64.StdEncoding, canary)[:12] + "…"},
		{"short secret", "abcdef", "value abcdef and ABCD and cdef"},
		{"three bytes", "k9z", "key k9z; K9Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := redact.String(tc.text, "other-secret-unused", tc.secret)
			if !strings.Contains(got, redact.Marker) {
				t.Fatalf("nothing redacted in %q", got)
			}
			for _, seg := range strings.Split(got, redact.Marker) {
				assertNoRunRaw(t, seg, tc.secret)
			}
		})
	}
}

func TestScrubKeepsOtherText(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"no secret", "provider_rejected: name is required (400)", "provider_rejected: name is required (400)"},
		{"short run kept", "Cana is a word", "Cana is a word"},
		{"overlapping runs merged", "a " + canary + " b", "a [REDACTED] b"},
		{"adjacent copies", "a " + canary + canary + " b", "a [REDACTED][REDACTED] b"},
		{"two places", canary + " and " + canary[:10], "[REDACTED] and [REDACTED]"},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact.String(tc.text, canary); got != tc.want {
				t.Fatalf("String(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	if got := redact.New().String("x " + canary); got != "x "+canary {
		t.Fatalf("a scrubber without secrets changed the text: %q", got)
	}
	var nilScrubber *redact.Scrubber
	if got := nilScrubber.String(canary); got != canary {
		t.Fatalf("a nil scrubber changed the text: %q", got)
	}
}

func TestMinRun(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{1, 1}, {3, 3}, {4, 4}, {7, 4}, {8, 4}, {9, 5}, {12, 6}, {15, 8}, {16, 8}, {100, 8}} {
		if got := redact.MinRun(tc.n); got != tc.want {
			t.Errorf("MinRun(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestWithAddsSecrets(t *testing.T) {
	base := redact.New("connection-credential-1")
	s := base.With(canary)
	got := s.String("connection-credential-1 / " + canary)
	if got != "[REDACTED] / [REDACTED]" {
		t.Fatalf("With: %q", got)
	}
	if got := base.String(canary); got != canary {
		t.Fatalf("With changed the base scrubber: %q", got)
	}
	if got := s.Bytes([]byte("x" + canary)); string(got) != "x[REDACTED]" {
		t.Fatalf("Bytes: %q", got)
	}
}

func TestScrubNoAllocWithoutSecret(t *testing.T) {
	s := redact.New(canary, "another-credential-value")
	text := strings.Repeat("provider error: the redirect URI is not registered; ", 20)
	if n := testing.AllocsPerRun(100, func() { _ = s.String(text) }); n != 0 {
		t.Fatalf("String allocates %v times on text without a secret", n)
	}
}

func FuzzScrub(f *testing.F) {
	f.Add(canary, "before %s after", uint8(0))
	f.Add("p@ss:w0rd/é", "Basic %s", uint8(65))
	f.Add("abcdefghijklmnopqrstuvwxyz", "x%sy", uint8(37))
	f.Add("\"\\\x00<>&", "%s", uint8(98))
	f.Add("ab", "%s%s", uint8(0))
	f.Fuzz(func(t *testing.T, secret, tmpl string, enc uint8) {
		if secret == "" || len(secret) > 200 || len(tmpl) > 200 {
			t.Skip()
		}
		forms := redact.Forms(secret)
		payload := forms[int(enc)%len(forms)]
		switch enc / 32 % 4 {
		case 1:
			payload = strings.ToUpper(payload)
		case 2:
			payload = b64(base64.StdEncoding, "user:"+secret)
		case 3:
			payload = payload[:len(payload)*3/4]
		}
		text := strings.ReplaceAll(tmpl, "%s", payload)
		if !strings.Contains(tmpl, "%s") {
			text = tmpl + payload
		}
		out := redact.String(text, secret)
		// The property: no text left between the markers holds a form of
		// the secret (whole for a secret under 4 bytes, else any run of
		// MinRun bytes), in any case.
		for _, seg := range strings.Split(out, redact.Marker) {
			assertNoRunRaw(t, seg, secret)
		}
	})
}

// assertNoRunRaw fails when out holds a secret's form: for a secret of 4
// bytes or more any run of MinRun bytes of a form (or a form of at least 4
// bytes that is shorter than that), for a shorter secret the secret itself.
func assertNoRunRaw(t *testing.T, out, secret string) {
	t.Helper()
	low := asciiLower(out)
	if len(secret) < 4 {
		if strings.Contains(low, asciiLower(secret)) {
			t.Fatalf("short secret %q remains in %q", secret, out)
		}
		return
	}
	k := redact.MinRun(len(secret))
	for _, f := range redact.Forms(secret) {
		f = asciiLower(f)
		if len(f) < k {
			if len(f) >= 4 && strings.Contains(low, f) {
				t.Fatalf("form %q of %q remains in %q", f, secret, out)
			}
			continue
		}
		for i := 0; i+k <= len(f); i++ {
			if strings.Contains(low, f[i:i+k]) {
				t.Fatalf("run %q of form %q of %q remains in %q", f[i:i+k], f, secret, out)
			}
		}
	}
}

func BenchmarkScrub(b *testing.B) {
	s := redact.New(canary, "connection-auth-token-0123456789", "user-id-42")
	clean := strings.Repeat("provider_unavailable: 503 Service Unavailable: upstream busy, retry later. ", 14) // ~1 KiB
	dirty := clean[:500] + b64(base64.StdEncoding, "u:"+canary) + clean[500:]
	for _, bc := range []struct{ name, text string }{{"clean-1KiB", clean}, {"echo-1KiB", dirty}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				_ = s.String(bc.text)
			}
		})
	}
	b.Run("build-per-command", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.With(canary)
		}
	})
}

// asciiLower folds A-Z only, as the scrubber does (strings.ToLower would
// turn invalid UTF-8 into U+FFFD and find false matches).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
