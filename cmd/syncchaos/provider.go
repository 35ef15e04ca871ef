package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// history is the record of every write the providers applied, in the order
// they applied them, and of the faults injected. Its lock is held across a
// simulator's call, so the order recorded is the order applied.
type history struct {
	mu       sync.Mutex
	rng      *rand.Rand
	writes   []Write
	faults   int
	lost     int
	requests int
}

func newHistory(seed uint64) *history {
	return &history{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// faultyProvider wraps a provider simulator: it answers a share of
// requests with a 5xx or 429 without forwarding them, records every write
// the simulator accepts (before the answer leaves), and loses the answer of
// a share of accepted writes (the connection is closed, or a 502 comes
// back): a write that lands but whose answer is lost.
type faultyProvider struct {
	h         *history
	p         *chaosProvider
	faultRate float64
	lostRate  float64
}

// maxBody bounds the request bodies the wrapper reads.
const maxBody = 1 << 20

func (fp *faultyProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return
	}
	h := fp.h
	h.mu.Lock()
	h.requests++
	x := h.rng.Float64()
	if x < fp.faultRate {
		h.faults++
		kind := h.rng.IntN(4)
		// A 429 with a reset holds the whole fleet (contract §5.8): a tenth
		// of the 429s carry one, so that the fleet's wait is exercised
		// without holding it most of the run.
		withReset := h.rng.IntN(10) == 0
		h.mu.Unlock()
		switch kind {
		case 0, 1:
			if withReset {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, `{"status":"fail","message":"Too Many Requests","code":429}`, http.StatusTooManyRequests)
		case 2:
			http.Error(w, `{"status":"error","message":"Internal Server Error","code":500}`, http.StatusInternalServerError)
		default:
			http.Error(w, "<html>503 Service Unavailable</html>", http.StatusServiceUnavailable)
		}
		return
	}
	rec := httptest.NewRecorder()
	fwd := r.Clone(r.Context())
	fwd.Body = io.NopCloser(bytes.NewReader(body))
	slot := takeSlot(fwd)
	fp.p.handler.ServeHTTP(rec, fwd)
	resource, full, isWrite := fp.p.write(r)
	landed := isWrite && rec.Code == http.StatusOK
	lose := landed && x < fp.faultRate+fp.lostRate
	closeConn := false
	if landed {
		if lose {
			h.lost++
			closeConn = h.rng.IntN(2) == 0
		}
		h.writes = append(h.writes, Write{
			Serial:   len(h.writes) + 1,
			Time:     time.Now(),
			Resource: resource,
			Fields:   bodyFields(body),
			Full:     full,
			Lost:     lose,
			Worker:   slot,
		})
	}
	h.mu.Unlock()

	if lose {
		if closeConn {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
		}
		http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// Each worker slot gets the connection's credential with its own suffix
// (slotCredential: the token, or the user name), so that the history knows
// which worker process sent each write; takeSlot reads the suffix off a
// request and takes it away before the simulator sees the request.

// slotCredential is cred as worker slot gets it.
func slotCredential(cred string, slot int) string { return fmt.Sprintf("%s-w%d", cred, slot) }

// takeSlot returns the worker slot r's credential names (-1: none) and
// puts the connection's own credential back in its place.
func takeSlot(r *http.Request) int {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		cred, slot := cutSlot(tok)
		r.Header.Set("Authorization", "Bearer "+cred)
		return slot
	}
	if user, pass, ok := r.BasicAuth(); ok {
		cred, slot := cutSlot(user)
		r.SetBasicAuth(cred, pass)
		return slot
	}
	return -1
}

func cutSlot(s string) (string, int) {
	i := strings.LastIndex(s, "-w")
	if i < 0 {
		return s, -1
	}
	n, err := strconv.Atoi(s[i+2:])
	if err != nil || n < 0 {
		return s, -1
	}
	return s[:i], n
}

// bodyFields returns a write body's keys with their values as the checker
// compares them: strings as they are, string arrays joined with ",", any
// other value as JSON.
func bodyFields(body []byte) map[string]string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return map[string]string{"<body>": string(body)}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fieldValue(v)
	}
	return out
}

func fieldValue(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = fieldValue(x)
		}
		return strings.Join(parts, ",")
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// snapshot returns the writes so far, the faults and lost answers injected,
// and the requests served.
func (h *history) snapshot() (writes []Write, faults, lost, requests int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Write(nil), h.writes...), h.faults, h.lost, h.requests
}

func (h *history) writeCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.writes)
}

// state returns each provider's tracked fields of its resources, read
// while no write is being applied.
func (h *history) state(providers []*chaosProvider, resources map[*chaosProvider][]string) map[string]map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]map[string]string{}
	for _, p := range providers {
		for _, id := range resources[p] {
			if m, ok := p.state(id); ok {
				out[id] = m
			}
		}
	}
	return out
}
