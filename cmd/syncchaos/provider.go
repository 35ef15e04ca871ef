package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
)

// faultyProvider wraps a provider simulator: it answers a share of
// requests with a 5xx or 429 without forwarding them, records every write
// the simulator accepts (before the answer leaves), and loses the answer of
// a share of accepted writes (the connection is closed, or a 502 comes
// back): a write that lands but whose answer is lost.
type faultyProvider struct {
	sim       *reelevantsim.Server
	faultRate float64
	lostRate  float64

	mu       sync.Mutex // held across the simulator's call: writes are recorded in the order applied
	rng      *rand.Rand
	writes   []Write
	faults   int
	lost     int
	requests int
}

func newFaultyProvider(sim *reelevantsim.Server, faultRate, lostRate float64, seed uint64) *faultyProvider {
	return &faultyProvider{sim: sim, faultRate: faultRate, lostRate: lostRate, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (p *faultyProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, reelevantsim.MaxBodyBytes))
	if err != nil {
		return
	}
	p.mu.Lock()
	p.requests++
	x := p.rng.Float64()
	if x < p.faultRate {
		p.faults++
		kind := p.rng.IntN(4)
		p.mu.Unlock()
		switch kind {
		case 0:
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"status":"fail","message":"Too Many Requests","code":429}`, http.StatusTooManyRequests)
		case 1:
			http.Error(w, `{"status":"fail","message":"Too Many Requests","code":429}`, http.StatusTooManyRequests)
		case 2:
			http.Error(w, `{"status":"error","message":"Internal Server Error","code":500}`, http.StatusInternalServerError)
		default:
			http.Error(w, "<html>503 Service Unavailable</html>", http.StatusServiceUnavailable)
		}
		return
	}
	lose := x < p.faultRate+p.lostRate
	rec := httptest.NewRecorder()
	fwd := r.Clone(r.Context())
	fwd.Body = io.NopCloser(bytes.NewReader(body))
	p.sim.ServeHTTP(rec, fwd)
	landed := r.Method == http.MethodPatch && rec.Code == http.StatusOK
	lose = lose && landed
	closeConn := false
	if landed {
		if lose {
			p.lost++
			closeConn = p.rng.IntN(2) == 0
		}
		p.writes = append(p.writes, Write{
			Serial:   len(p.writes) + 1,
			Time:     time.Now(),
			Resource: strings.TrimPrefix(r.URL.Path, reelevantsim.PathPrefix),
			Fields:   patchFields(body),
			Lost:     lose,
		})
	}
	p.mu.Unlock()

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

// patchFields returns a PATCH body's keys with their values as the checker
// compares them: strings as they are, string arrays joined with ",", any
// other value as JSON.
func patchFields(body []byte) map[string]string {
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
func (p *faultyProvider) snapshot() (writes []Write, faults, lost, requests int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Write(nil), p.writes...), p.faults, p.lost, p.requests
}

func (p *faultyProvider) writeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.writes)
}

// state returns the simulator's stored fields of each resource, in the
// checker's form.
func (p *faultyProvider) state(resources []string) map[string]map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]map[string]string, len(resources))
	for _, id := range resources {
		c, ok := p.sim.Client(id)
		if !ok {
			continue
		}
		m := make(map[string]string, len(c))
		for k, v := range c {
			m[k] = fieldValue(v)
		}
		out[id] = m
	}
	return out
}
