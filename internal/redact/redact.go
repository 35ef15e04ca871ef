package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// Marker replaces a secret. It equals messages.Redacted.
const Marker = "[REDACTED]"

// Minimum run lengths (bytes of a form) that are redacted; see MinRun.
const (
	maxRun      = 8  // a run this long is redacted whatever the secret's length
	minRun      = 4  // never a shorter run (short runs would hit plain text)
	minPartial  = 4  // secrets shorter than this are redacted whole only
	filterBits  = 14 // bitmap filter: 1<<filterBits bits
	filterWords = 1 << filterBits / 64
)

// MinRun is the shortest run of one of a secret's forms that is redacted
// when it appears on its own (a truncated or split secret): 8 bytes, or for a
// secret shorter than 16 bytes half of it rounded up, but at least 4. A
// secret shorter than 4 bytes has no partial runs: MinRun returns its length
// and only its whole forms are redacted.
func MinRun(secretLen int) int {
	if secretLen < minPartial {
		return secretLen
	}
	return min(maxRun, max(minRun, (secretLen+1)/2))
}

// Scrubber redacts a fixed set of secrets. The zero value and nil redact
// nothing. A Scrubber is safe for concurrent use.
type Scrubber struct {
	tables []*table
}

// table is the k-gram sets of some secrets' forms.
type table struct {
	lens   []int                           // distinct gram lengths, ascending
	grams  [maxRun + 1]map[uint64]struct{} // by gram length
	filter [filterWords]uint64
}

// New returns a Scrubber for secrets; empty strings are ignored.
func New(secrets ...string) *Scrubber {
	return (*Scrubber)(nil).With(secrets...)
}

// With returns a Scrubber that redacts s's secrets and extra. s is not
// changed; building costs in proportion to extra only.
func (s *Scrubber) With(extra ...string) *Scrubber {
	t := newTable(extra)
	var tables []*table
	if s != nil {
		tables = s.tables
	}
	if t == nil {
		if s == nil {
			return &Scrubber{}
		}
		return s
	}
	return &Scrubber{tables: append(slices.Clip(tables), t)}
}

// String returns text with every form of every secret replaced by Marker;
// text itself when there is nothing to redact.
func String(text string, secrets ...string) string {
	if text == "" {
		return text
	}
	return New(secrets...).String(text)
}

// String returns text with every form of the secrets replaced by Marker,
// and text itself (no allocation) when nothing matches.
func (s *Scrubber) String(text string) string {
	if s == nil || len(s.tables) == 0 || text == "" {
		return text
	}
	spans := find(s, text)
	if len(spans) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, sp := range spans {
		b.WriteString(text[last:sp.from])
		b.WriteString(Marker)
		last = sp.to
	}
	b.WriteString(text[last:])
	return b.String()
}

// Bytes is String for a byte slice; it returns b itself when nothing matches.
func (s *Scrubber) Bytes(b []byte) []byte {
	if s == nil || len(s.tables) == 0 || len(b) == 0 {
		return b
	}
	spans := find(s, b)
	if len(spans) == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, sp := range spans {
		out = append(out, b[last:sp.from]...)
		out = append(out, Marker...)
		last = sp.to
	}
	return append(out, b[last:]...)
}

// Contains reports whether text holds any form of the secrets.
func (s *Scrubber) Contains(text string) bool {
	return s != nil && len(find(s, text)) > 0
}

type span struct{ from, to int }

// find returns the merged, ordered spans of text to redact.
func find[T string | []byte](s *Scrubber, text T) []span {
	var spans []span
	passes := 0
	for _, t := range s.tables {
		for _, k := range t.lens {
			if len(text) < k {
				continue
			}
			passes++
			set := t.grams[k]
			mask := ^uint64(0)
			if k < 8 {
				mask = 1<<(8*k) - 1
			}
			var key uint64
			for i := 0; i < len(text); i++ {
				key = key<<8 | uint64(lower(text[i]))
				if i+1 < k {
					continue
				}
				g := key & mask
				h := hash(g, k)
				if t.filter[h/64]&(1<<(h%64)) == 0 {
					continue
				}
				if _, ok := set[g]; !ok {
					continue
				}
				from := i + 1 - k
				if n := len(spans); n > 0 && from < spans[n-1].to && from >= spans[n-1].from {
					spans[n-1].to = max(spans[n-1].to, i+1)
					continue
				}
				spans = append(spans, span{from, i + 1})
			}
		}
	}
	if passes > 1 && len(spans) > 1 {
		slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
		merged := spans[:1]
		for _, sp := range spans[1:] {
			last := &merged[len(merged)-1]
			if sp.from < last.to {
				last.to = max(last.to, sp.to)
				continue
			}
			merged = append(merged, sp)
		}
		spans = merged
	}
	return spans
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hash(g uint64, k int) uint64 {
	return (g*0x9E3779B97F4A7C15 + uint64(k)*0xBF58476D1CE4E5B9) >> (64 - filterBits)
}

// newTable builds the gram sets of secrets' forms, nil when there is none.
func newTable(secrets []string) *table {
	t := &table{}
	some := false
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		some = true
		run := MinRun(len(sec))
		if len(sec) < minPartial {
			run = maxRun // whole forms only: no form of such a secret is cut
		}
		for _, f := range forms(sec) {
			if len(f.text) < run {
				if f.whole || len(f.text) >= minRun {
					t.add(f.text) // a short form: whole
				}
				continue
			}
			for i := 0; i+run <= len(f.text); i++ {
				t.add(f.text[i : i+run])
			}
		}
	}
	if !some {
		return nil
	}
	return t
}

// add adds gram (at most 8 bytes), folded to lower case.
func (t *table) add(gram string) {
	k := len(gram)
	var g uint64
	for i := 0; i < k; i++ {
		g = g<<8 | uint64(lower(gram[i]))
	}
	if t.grams[k] == nil {
		t.grams[k] = map[uint64]struct{}{}
		t.lens = append(t.lens, k)
		slices.Sort(t.lens)
	}
	t.grams[k][g] = struct{}{}
	h := hash(g, k)
	t.filter[h/64] |= 1 << (h % 64)
}

// form is one encoding of a secret. whole forms encode the secret alone
// (and are redacted whatever their length); the others are the part of a
// longer encoding that only the secret determines.
type form struct {
	text  string
	whole bool
}

// Forms returns the encodings of secret that a Scrubber redacts (and whose
// runs of MinRun bytes it redacts too), for tests and documentation.
func Forms(secret string) []string {
	var out []string
	for _, f := range forms(secret) {
		out = append(out, f.text)
	}
	return out
}

func forms(secret string) []form {
	fs := []form{{secret, true}}
	add := func(s string, whole bool) {
		if s == "" {
			return
		}
		for _, f := range fs {
			if strings.EqualFold(f.text, s) {
				return
			}
		}
		fs = append(fs, form{s, whole})
	}
	if b, err := json.Marshal(secret); err == nil {
		add(string(b[1:len(b)-1]), true)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(secret) == nil {
		b := bytes.TrimSpace(buf.Bytes())
		add(string(b[1:len(b)-1]), true)
	}
	add(url.QueryEscape(secret), true)
	add(url.PathEscape(secret), true)
	add(hex.EncodeToString([]byte(secret)), true)
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		add(e.EncodeToString([]byte(secret)), true)
	}
	// Inside a longer base64 blob the secret starts at any byte offset: for
	// a prefix of p bytes (p = 0, 1, 2 modulo 3) keep the characters whose
	// six bits all come from the secret.
	n := len(secret)
	for _, e := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for p, drop := range []int{0, 2, 3} {
			enc := e.EncodeToString(append(make([]byte, p), secret...))
			end := 8 * (p + n) / 6
			if end > drop {
				add(enc[drop:end], false)
			}
		}
	}
	return fs
}
