package simkit

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Recorder keeps the requests a simulator received, in order. Its zero
// value is not usable; create it with NewRecorder.
type Recorder[T any] struct {
	off   bool
	clone func(T) T

	mu   sync.Mutex
	recs []T
}

// NewRecorder returns a Recorder that deep-copies with clone. With off,
// Record does nothing (for long load runs whose memory must not grow with
// every request).
func NewRecorder[T any](off bool, clone func(T) T) *Recorder[T] {
	return &Recorder[T]{off: off, clone: clone}
}

// Enabled reports whether Record keeps records: a caller can skip building
// an expensive record (a header clone) when it does not.
func (r *Recorder[T]) Enabled() bool { return !r.off }

// Record appends rec, which the Recorder owns from then on.
func (r *Recorder[T]) Record(rec T) {
	if r.off {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

// All returns a deep copy of every record, in order.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]T, len(r.recs))
	for i, rec := range r.recs {
		out[i] = r.clone(rec)
	}
	return out
}

// Reset forgets every record.
func (r *Recorder[T]) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = nil
}

// CloneValues returns a deep copy of v; nil stays nil.
func CloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// FaultQueue holds scripted faults until requests consume them. The zero
// value is an empty queue.
type FaultQueue[F any] struct {
	mu     sync.Mutex
	faults []F
}

// Push queues f after the faults already queued.
func (q *FaultQueue[F]) Push(f F) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.faults = append(q.faults, f)
}

// Pop removes and returns the first queued fault that match accepts (any
// fault when match is nil); false if there is none.
func (q *FaultQueue[F]) Pop(match func(F) bool) (F, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, f := range q.faults {
		if match == nil || match(f) {
			q.faults = slices.Delete(q.faults, i, i+1)
			return f, true
		}
	}
	var zero F
	return zero, false
}

// Len returns the number of queued faults.
func (q *FaultQueue[F]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.faults)
}

// Reset forgets every queued fault.
func (q *FaultQueue[F]) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.faults = nil
}

// RateWindow counts calls per key in fixed windows: a key's window starts at
// its first call and lasts Window; the Limit+1st call in it is over the
// limit. Create it with NewRateWindow.
type RateWindow struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	start time.Time
	count int
}

// RateState is what a RateWindow says about one call.
type RateState struct {
	// Limit is the number of calls a window allows.
	Limit int
	// Remaining is how many calls the window still allows (never below
	// zero).
	Remaining int
	// Reset is when the window ends.
	Reset time.Time
	// Exceeded is true when this call is over the limit.
	Exceeded bool
}

// NewRateWindow returns a RateWindow that allows limit calls per window;
// limit <= 0 means no limit (Count then counts nothing and returns the zero
// RateState).
func NewRateWindow(limit int, window time.Duration) *RateWindow {
	return &RateWindow{limit: limit, window: window}
}

// Count counts a call of key at now.
func (rw *RateWindow) Count(key string, now time.Time) RateState {
	if rw.limit <= 0 {
		return RateState{}
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.windows == nil {
		rw.windows = map[string]*window{}
	}
	w := rw.windows[key]
	if w == nil || !now.Before(w.start.Add(rw.window)) {
		w = &window{start: now}
		rw.windows[key] = w
	}
	w.count++
	return RateState{
		Limit:     rw.limit,
		Remaining: max(0, rw.limit-w.count),
		Reset:     w.start.Add(rw.window),
		Exceeded:  w.count > rw.limit,
	}
}

// Reset forgets every count.
func (rw *RateWindow) Reset() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.windows = nil
}

// CeilSeconds is d in whole seconds, rounded up; a negative d is 0.
func CeilSeconds(d time.Duration) int64 {
	return int64((max(d, 0) + time.Second - 1) / time.Second)
}

// ReadBody reads r's body up to limit bytes. tooLarge reports a body longer
// than limit, of which body holds the first limit bytes; err is the read's
// error.
func ReadBody(r *http.Request, limit int64) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	if int64(len(body)) > limit {
		return body[:limit], true, err
	}
	return body, false, err
}

// Equal compares got with want in constant time; an empty want never
// matches.
func Equal(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Sleep waits d or until ctx is done; false means ctx is done. With d <= 0
// it does not wait and reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ResetConnection closes the client's connection without an answer: a TCP
// reset where the connection can be taken over, an aborted stream (a panic
// with http.ErrAbortHandler, which net/http handles) otherwise.
func ResetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// Garbage is the body of a garbage answer: an HTML error page with bytes
// that are not UTF-8, what a broken proxy in front of a provider sends.
const Garbage = "<html><body><h1>502 Bad Gateway</h1></body></html>\x00\xff"

// WriteGarbage answers 200 with Content-Type application/json and the
// Garbage body. Headers already set on w are sent too.
func WriteGarbage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json") // as a broken proxy would
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, Garbage)
}

// JSONWriter writes JSON answers the way one provider does.
type JSONWriter struct {
	// ContentType is the answers' Content-Type.
	ContentType string
	// Fallback is the body of the 500 answer sent when a value does not
	// encode as JSON.
	Fallback string
}

// Write answers status with v encoded as JSON, or 500 with Fallback if v
// does not encode.
func (jw JSONWriter) Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(jw.Fallback)
	}
	w.Header().Set("Content-Type", jw.ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// RandomString returns n characters drawn uniformly from alphabet with
// crypto/rand.
func RandomString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}
