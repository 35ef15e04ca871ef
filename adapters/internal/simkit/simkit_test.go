package simkit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters/internal/simkit"
)

type rec struct {
	Header http.Header
	Body   []byte
}

func cloneRec(r rec) rec {
	r.Header, r.Body = r.Header.Clone(), slices.Clone(r.Body)
	return r
}

func TestRecorderDeepCopies(t *testing.T) {
	r := simkit.NewRecorder(false, cloneRec)
	r.Record(rec{Header: http.Header{"A": {"1"}}, Body: []byte("x")})
	got := r.All()
	got[0].Header.Set("A", "changed")
	got[0].Body[0] = 'y'
	again := r.All()
	if len(again) != 1 || again[0].Header.Get("A") != "1" || string(again[0].Body) != "x" {
		t.Fatalf("All shares memory with the recorder: %+v", again)
	}
	r.Reset()
	if n := len(r.All()); n != 0 {
		t.Fatalf("after Reset, %d records", n)
	}
}

func TestRecorderOff(t *testing.T) {
	r := simkit.NewRecorder(true, cloneRec)
	r.Record(rec{Body: []byte("x")})
	if n := len(r.All()); n != 0 {
		t.Fatalf("an off recorder kept %d records", n)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	r := simkit.NewRecorder(false, cloneRec)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				r.Record(rec{Body: []byte("x")})
				_ = r.All()
			}
		})
	}
	wg.Wait()
	if n := len(r.All()); n != 400 {
		t.Fatalf("got %d records, want 400", n)
	}
}

func TestCloneValues(t *testing.T) {
	if simkit.CloneValues(nil) != nil {
		t.Fatal("CloneValues(nil) is not nil")
	}
	v := url.Values{"a": {"1", "2"}}
	c := simkit.CloneValues(v)
	c["a"][0] = "changed"
	if v["a"][0] != "1" || len(c["a"]) != 2 {
		t.Fatalf("clone shares memory: %v %v", v, c)
	}
}

func TestFaultQueue(t *testing.T) {
	var q simkit.FaultQueue[string]
	if _, ok := q.Pop(nil); ok {
		t.Fatal("Pop on an empty queue returned a fault")
	}
	for _, f := range []string{"a1", "b1", "a2"} {
		q.Push(f)
	}
	isB := func(f string) bool { return strings.HasPrefix(f, "b") }
	if f, ok := q.Pop(isB); !ok || f != "b1" {
		t.Fatalf("Pop(isB) = %q, %v; want b1", f, ok)
	}
	if _, ok := q.Pop(isB); ok {
		t.Fatal("Pop(isB) found a second b fault")
	}
	if n := q.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	if f, _ := q.Pop(nil); f != "a1" {
		t.Fatalf("Pop(nil) = %q, want a1 (queue order)", f)
	}
	q.Reset()
	if n := q.Len(); n != 0 {
		t.Fatalf("after Reset, Len = %d", n)
	}
}

func TestFaultQueueEachFaultOnce(t *testing.T) {
	var q simkit.FaultQueue[int]
	const n = 200
	for i := range n {
		q.Push(i)
	}
	var (
		mu   sync.Mutex
		seen = map[int]int{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for {
				f, ok := q.Pop(nil)
				if !ok {
					return
				}
				mu.Lock()
				seen[f]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct faults popped, want %d", len(seen), n)
	}
	for f, c := range seen {
		if c != 1 {
			t.Fatalf("fault %d popped %d times", f, c)
		}
	}
}

func TestRateWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rw := simkit.NewRateWindow(2, time.Minute)
	want := []simkit.RateState{
		{Limit: 2, Remaining: 1, Reset: t0.Add(time.Minute)},
		{Limit: 2, Remaining: 0, Reset: t0.Add(time.Minute)},
		{Limit: 2, Remaining: 0, Reset: t0.Add(time.Minute), Exceeded: true},
	}
	for i, w := range want {
		if got := rw.Count("k", t0.Add(time.Duration(i)*time.Second)); got != w {
			t.Fatalf("call %d: got %+v, want %+v", i+1, got, w)
		}
	}
	if got := rw.Count("other", t0); got.Exceeded || got.Remaining != 1 {
		t.Fatalf("another key shares the window: %+v", got)
	}
	// The window ends exactly at start+Window: a new one starts there.
	if got := rw.Count("k", t0.Add(time.Minute)); got.Exceeded || got.Remaining != 1 || !got.Reset.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("at the window's end: %+v", got)
	}
	rw.Count("k", t0.Add(time.Minute))
	rw.Reset()
	if got := rw.Count("k", t0.Add(time.Minute)); got.Remaining != 1 {
		t.Fatalf("after Reset: %+v", got)
	}
}

func TestRateWindowNoLimit(t *testing.T) {
	rw := simkit.NewRateWindow(0, time.Minute)
	for range 10 {
		if got := rw.Count("k", time.Now()); got != (simkit.RateState{}) {
			t.Fatalf("no limit: got %+v, want the zero state", got)
		}
	}
}

func TestRateWindowConcurrent(t *testing.T) {
	rw := simkit.NewRateWindow(100, time.Hour)
	now := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		exceeded int
	)
	for range 10 {
		wg.Go(func() {
			for range 20 {
				if rw.Count("k", now).Exceeded {
					mu.Lock()
					exceeded++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if exceeded != 100 {
		t.Fatalf("%d calls over the limit, want 100", exceeded)
	}
}

func TestCeilSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		-time.Second: 0, 0: 0, time.Nanosecond: 1, time.Second: 1, 1500 * time.Millisecond: 2,
	} {
		if got := simkit.CeilSeconds(d); got != want {
			t.Errorf("CeilSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestReadBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("abcd"))
	body, tooLarge, err := simkit.ReadBody(r, 4)
	if string(body) != "abcd" || tooLarge || err != nil {
		t.Fatalf("at the limit: %q, %v, %v", body, tooLarge, err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("abcde"))
	body, tooLarge, err = simkit.ReadBody(r, 4)
	if string(body) != "abcd" || !tooLarge || err != nil {
		t.Fatalf("over the limit: %q, %v, %v", body, tooLarge, err)
	}
}

func TestEqual(t *testing.T) {
	for _, c := range []struct {
		got, want string
		ok        bool
	}{{"a", "a", true}, {"a", "b", false}, {"", "", false}, {"a", "", false}, {"", "a", false}} {
		if simkit.Equal(c.got, c.want) != c.ok {
			t.Errorf("Equal(%q, %q) = %v", c.got, c.want, !c.ok)
		}
	}
}

func TestSleep(t *testing.T) {
	if !simkit.Sleep(context.Background(), 0) {
		t.Fatal("Sleep(live, 0) = false")
	}
	if !simkit.Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep(live, 1ms) = false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if simkit.Sleep(ctx, 0) {
		t.Fatal("Sleep(done, 0) = true")
	}
	if simkit.Sleep(ctx, time.Hour) {
		t.Fatal("Sleep(done, 1h) = true")
	}
}

func TestResetConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		simkit.ResetConnection(w)
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer (%s), want a dropped connection", resp.Status)
	}
}

func TestResetConnectionWithoutHijacker(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !errors.Is(p.(error), http.ErrAbortHandler) {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
	}()
	simkit.ResetConnection(httptest.NewRecorder())
}

func TestWriteGarbage(t *testing.T) {
	w := httptest.NewRecorder()
	simkit.WriteGarbage(w)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != simkit.Garbage {
		t.Fatalf("got %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
}

func TestJSONWriter(t *testing.T) {
	jw := simkit.JSONWriter{ContentType: "application/json; charset=utf-8", Fallback: `{"error":"internal"}`}
	w := httptest.NewRecorder()
	jw.Write(w, http.StatusCreated, map[string]int{"a": 1})
	if w.Code != http.StatusCreated || w.Header().Get("Content-Type") != jw.ContentType || w.Body.String() != `{"a":1}` {
		t.Fatalf("got %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	w = httptest.NewRecorder()
	jw.Write(w, http.StatusOK, func() {}) // a func does not encode
	if w.Code != http.StatusInternalServerError || w.Body.String() != jw.Fallback {
		t.Fatalf("fallback: got %d %q", w.Code, w.Body.String())
	}
}

func TestRandomString(t *testing.T) {
	const alphabet = "ab"
	s := simkit.RandomString(64, alphabet)
	if len(s) != 64 || strings.Trim(s, alphabet) != "" {
		t.Fatalf("RandomString(64, %q) = %q", alphabet, s)
	}
	if a, b := simkit.RandomString(32, "0123456789"), simkit.RandomString(32, "0123456789"); a == b {
		t.Fatal("two random strings are equal")
	}
}
