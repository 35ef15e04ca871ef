package reelevantsim

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/adapters/internal/simkit"
)

// PathPrefix is the route's path before the OAuth client id: the simulator
// serves PATCH /v2/datasources/oauth/{id}.
const PathPrefix = "/v2/datasources/oauth/"

// The envelope's program and version: the spec's info.title and
// info.version.
const (
	Program = "datasources-api"
	Version = "0.0.0"
)

// Defaults of Options.
const (
	// DefaultCompanyID is the companyId of the success answer's data when
	// Options.CompanyID is empty.
	DefaultCompanyID = "5e1f8a3b2c4d6e7f8a9b0c1d"
	// DefaultRateLimitWindow is the rate limiter's window when
	// Options.RateLimitWindow is zero.
	DefaultRateLimitWindow = time.Minute
	// MaxBodyBytes is the largest request body the simulator reads.
	MaxBodyBytes = 1 << 20
)

// The simulator's messages. Reelevant documents the envelope, not its texts.
const (
	MsgUpdated        = "OAuth client updated"
	MsgUnauthorized   = "Unauthorized: the access token is missing, invalid or expired"
	MsgNotFound       = "OAuth client not found"
	MsgRouteNotFound  = "Not Found"
	MsgTooManyRequest = "Too Many Requests"
	MsgInternal       = "Internal Server Error"
)

// TokenPath is the token endpoint the simulator serves (POST, JSON body;
// docs/CONTRACT.md §6).
const TokenPath = "/v2/auth/token"

// DefaultTokenLifetime is an issued access token's lifetime when
// Options.TokenLifetime is zero (Reelevant's: one hour).
const DefaultTokenLifetime = time.Hour

// Options configure a Server.
type Options struct {
	// Token is a fixed bearer token the server accepts; it never expires.
	// An empty Token never matches.
	Token string
	// ClientID, RefreshToken, Username and Password are what the token
	// endpoint accepts: grant refresh_token with ClientID and RefreshToken,
	// grant password with ClientID, Username and Password. An empty value
	// never matches.
	ClientID, RefreshToken, Username, Password string
	// TokenLifetime is the lifetime of the access tokens the token endpoint
	// issues (expires_in); an expired token is refused with 401 on every
	// call. Default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// RotateRefreshTokens makes each refresh_token grant answer a new
	// refresh_token and revoke the one it used.
	RotateRefreshTokens bool
	// CompanyID is the companyId of the success answer's data. Default
	// DefaultCompanyID.
	CompanyID string
	// Latency is waited before every answer (honouring the request's
	// context).
	Latency time.Duration
	// RateLimit is the number of calls one token may make per
	// RateLimitWindow; more is 429 with Retry-After. Zero (the default)
	// means no limit: Reelevant documents none for this API.
	RateLimit int
	// RateLimitWindow is the rate limiter's window. Default
	// DefaultRateLimitWindow.
	RateLimitWindow time.Duration
	// Now is the clock for datetime, recorded requests and rate limiting.
	// Default time.Now.
	Now func() time.Time
	// NoRecord turns off request recording (Requests stays empty), for
	// long load runs whose memory must not grow with every request.
	NoRecord bool
}

// Recorded is one request as the simulator received it.
type Recorded struct {
	Method string
	// Path is the URL path; RawPath its escaped form.
	Path, RawPath string
	RawQuery      string
	// Header is every request header, the Authorization header included.
	Header http.Header
	// Body is the request body (at most MaxBodyBytes).
	Body []byte
	Time time.Time
}

// Fault scripts one failure. Each queued fault is consumed by the next
// request. Delay is applied first; then the first of Reset, Garbage, Status
// or RetryAfter that is set decides the answer. A fault with only Delay set
// makes a slow, otherwise normal, answer.
type Fault struct {
	// Status answers with this HTTP status and Reelevant's envelope:
	// status "success" for 2xx, "fail" for 4xx, "error" for 5xx (Envelope
	// overrides it), message the status text (Message overrides it), code
	// the status. Zero with RetryAfter set means 429.
	Status int
	// Envelope replaces the envelope's status ("success", "fail", "error").
	Envelope string
	// Message replaces the envelope's message.
	Message string
	// ErrorCode, when not zero, is sent as error_code.
	ErrorCode int
	// Data replaces the envelope's data ({} by default).
	Data any
	// RetryAfter adds a Retry-After header: the wait in seconds, rounded
	// up.
	RetryAfter time.Duration
	// Delay waits before answering, honouring the request's context: if
	// the client goes away first, nothing is answered.
	Delay time.Duration
	// Garbage answers 200 with a body that is not JSON.
	Garbage bool
	// Reset closes the connection without an answer.
	Reset bool
}

// Server is the simulator. Create it with New.
type Server struct {
	opts Options

	requests *simkit.Recorder[Recorded]
	faults   simkit.FaultQueue[Fault]
	rate     *simkit.RateWindow

	tokenFaults simkit.FaultQueue[Fault]

	mu      sync.Mutex
	clients map[string]map[string]any
	// issued maps each access token issued to its expiry.
	issued map[string]time.Time
	// refresh holds the refresh tokens the endpoint accepts.
	refresh       map[string]bool
	tokenRequests int
}

// New returns a simulator with no OAuth clients.
func New(opts Options) *Server {
	opts.CompanyID = cmp.Or(opts.CompanyID, DefaultCompanyID)
	opts.RateLimitWindow = cmp.Or(opts.RateLimitWindow, DefaultRateLimitWindow)
	opts.TokenLifetime = cmp.Or(opts.TokenLifetime, DefaultTokenLifetime)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts: opts,
		requests: simkit.NewRecorder(opts.NoRecord, func(r Recorded) Recorded {
			r.Header, r.Body = r.Header.Clone(), slices.Clone(r.Body)
			return r
		}),
		rate:    simkit.NewRateWindow(opts.RateLimit, opts.RateLimitWindow),
		clients: map[string]map[string]any{},
		issued:  map[string]time.Time{},
		refresh: map[string]bool{opts.RefreshToken: opts.RefreshToken != ""},
	}
}

// Seed stores an OAuth client with the given fields (the PATCH body's
// keys, clientSecret included), replacing any client with id, and returns
// id. An empty id gets a random ObjectId. The fields are stored as JSON
// decodes them (numbers float64, arrays []any, objects map[string]any);
// Seed panics if they do not encode as JSON.
func (s *Server) Seed(id string, fields map[string]any) string {
	if id == "" {
		id = newObjectID()
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic("reelevantsim: Seed: fields do not encode as JSON: " + err.Error())
	}
	stored := map[string]any{}
	if err := json.Unmarshal(b, &stored); err != nil || stored == nil {
		stored = map[string]any{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = stored
	return id
}

// Client returns a copy of the stored OAuth client with id, its
// write-only clientSecret included (the API never returns it).
func (s *Server) Client(id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, false
	}
	return plain(c).(map[string]any), true
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Recorded { return s.requests.All() }

// Fail queues f.
func (s *Server) Fail(f Fault) { s.faults.Push(f) }

// PendingFaults returns the number of queued faults not yet consumed.
func (s *Server) PendingFaults() int { return s.faults.Len() }

// Reset forgets every client, request, queued fault and rate-limit count.
func (s *Server) Reset() {
	s.requests.Reset()
	s.faults.Reset()
	s.rate.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients = map[string]map[string]any{}
}

// ServeHTTP serves PATCH /v2/datasources/oauth/{id} and POST
// /v2/auth/token.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, tooLarge, readErr := simkit.ReadBody(r, MaxBodyBytes)
	now := s.opts.Now()
	if r.URL.Path == TokenPath {
		s.serveToken(w, r, body, readErr, now)
		return
	}

	if s.requests.Enabled() { // no header clone when recording is off (load runs)
		s.requests.Record(Recorded{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Time: now,
		})
	}
	fault, faulted := s.faults.Pop(nil)
	rate := s.rate.Count(r.Header.Get("Authorization"), now)

	if !simkit.Sleep(r.Context(), s.opts.Latency) {
		return
	}
	if faulted {
		if !simkit.Sleep(r.Context(), fault.Delay) {
			return
		}
		if s.serveFault(w, fault) {
			return
		}
	}
	id, routed := route(r)
	switch {
	case !routed:
		s.fail(w, http.StatusNotFound, MsgRouteNotFound, map[string]any{})
	case !s.authenticated(r.Header):
		s.fail(w, http.StatusUnauthorized, MsgUnauthorized, map[string]any{})
	case rate.Exceeded:
		w.Header().Set("Retry-After", strconv.FormatInt(simkit.CeilSeconds(rate.Reset.Sub(now)), 10))
		s.fail(w, http.StatusTooManyRequests, MsgTooManyRequest, map[string]any{})
	case !IDPattern.MatchString(id):
		s.fail(w, http.StatusBadRequest, `id must match pattern "^[0-9a-fA-F]{24}$"`, map[string]any{"field": "id"})
	case readErr != nil:
		s.fail(w, http.StatusBadRequest, "the request body could not be read", map[string]any{})
	case tooLarge:
		s.fail(w, http.StatusRequestEntityTooLarge, "request entity too large", map[string]any{})
	default:
		s.serveUpdate(w, r, id, body)
	}
}

// route returns the id of PATCH /v2/datasources/oauth/{id}; false for any
// other method or path.
func route(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), PathPrefix)
	if !ok || r.Method != http.MethodPatch || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	id, err := url.PathUnescape(rest)
	return id, err == nil
}

// authenticated checks Authorization: Bearer <token>, where token is
// Options.Token or an access token the token endpoint issued that has not
// expired nor been revoked (the scheme's case is free, RFC 9110 §11.1).
func (s *Server) authenticated(h http.Header) bool {
	scheme, token, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	if simkit.Equal(token, s.opts.Token) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, issued := s.issued[token]
	return issued && s.opts.Now().Before(exp)
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.fail(w, http.StatusBadRequest, "the body must be application/json", map[string]any{})
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.Decode(new(any)) != io.EOF {
		s.fail(w, http.StatusBadRequest, "the body is not valid JSON", map[string]any{})
		return
	}
	if x := bodyRule("", v); x != nil {
		data := map[string]any{"field": x.field}
		if x.unknown != nil {
			data = map[string]any{"fields": x.unknown}
		}
		s.fail(w, http.StatusBadRequest, x.message, data)
		return
	}

	s.mu.Lock()
	stored, found := s.clients[id]
	if found {
		// PATCH: each key present replaces the stored value as a whole
		// (configuration and customPayload included); absent keys stay.
		for k, val := range v.(map[string]any) {
			stored[k] = plain(val)
		}
	}
	s.mu.Unlock()

	if !found {
		s.fail(w, http.StatusNotFound, MsgNotFound, map[string]any{"id": id})
		return
	}
	s.write(w, http.StatusOK, envelope{Status: "success", Message: MsgUpdated, Data: map[string]any{
		"companyId": s.opts.CompanyID, "resourceGroupIds": []string{}, "versions": []string{}, "archivedAt": nil,
	}})
}

// serveFault answers as f says; false means "answer normally" (a
// Delay-only fault).
func (s *Server) serveFault(w http.ResponseWriter, f Fault) bool {
	switch {
	case f.Reset:
		simkit.ResetConnection(w)
		return true
	case f.Garbage:
		simkit.WriteGarbage(w)
		return true
	case f.Status == 0 && f.RetryAfter <= 0:
		return false
	}
	status := f.Status
	if status == 0 {
		status = http.StatusTooManyRequests
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(simkit.CeilSeconds(f.RetryAfter), 10))
	}
	env := envelope{Status: f.Envelope, Message: cmp.Or(f.Message, http.StatusText(status)), Code: status, Data: f.Data}
	if env.Status == "" {
		env.Status = statusFor(status)
	}
	if env.Data == nil {
		env.Data = map[string]any{}
	}
	if f.ErrorCode != 0 {
		env.ErrorCode = &f.ErrorCode
	}
	s.write(w, status, env)
	return true
}

func statusFor(httpStatus int) string {
	switch {
	case httpStatus >= 500:
		return "error"
	case httpStatus >= 400:
		return "fail"
	default:
		return "success"
	}
}

// envelope is Reelevant's answer: {status, program, version, datetime,
// message, data, code}, plus error_code on some failures.
type envelope struct {
	Status    string `json:"status"`
	Program   string `json:"program"`
	Version   string `json:"version"`
	Datetime  string `json:"datetime"`
	Message   string `json:"message"`
	Data      any    `json:"data"`
	Code      int    `json:"code"`
	ErrorCode *int   `json:"error_code,omitempty"`
}

// fail answers a failure envelope: status "fail" for 4xx, "error" for 5xx.
func (s *Server) fail(w http.ResponseWriter, status int, message string, data any) {
	s.write(w, status, envelope{Status: statusFor(status), Message: message, Data: data})
}

func (s *Server) write(w http.ResponseWriter, status int, env envelope) {
	env.Program, env.Version = Program, Version
	env.Datetime = s.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	if env.Code == 0 {
		env.Code = status
	}
	envelopeWriter.Write(w, status, env)
}

// envelopeWriter writes envelopes, or Reelevant's 500 if one does not
// encode.
var envelopeWriter = simkit.JSONWriter{
	ContentType: "application/json; charset=utf-8",
	Fallback:    `{"status":"error","message":"Internal Server Error","code":500}`,
}

// plain returns a deep copy of a JSON-decoded value, as json.Unmarshal
// gives it: a json.Number becomes a float64 (the rules have checked that it
// is finite).
func plain(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(t), 64)
		return f
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = plain(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = plain(x)
		}
		return out
	default:
		return v
	}
}

// newObjectID returns a random 24-hex-digit id, the shape of a MongoDB
// ObjectId.
func newObjectID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
