package rocketchatsim

import (
	"bytes"
	"cmp"
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

// The routes the simulator serves.
const (
	PathGet    = "/api/v1/oauth-apps.get"
	PathUpdate = "/api/v1/oauth-apps.update"
)

// Defaults of Options.
const (
	// DefaultRateLimit is the number of calls per window when
	// Options.RateLimit is zero. It is far above Rocket.Chat's default (10
	// per minute) so that tests and the dev demo are not throttled unless
	// they ask to be.
	DefaultRateLimit = 1000
	// DefaultRateLimitWindow is the window when Options.RateLimitWindow is
	// zero: Rocket.Chat's default of 60000 ms.
	DefaultRateLimitWindow = time.Minute
	// DefaultUsername names the simulated user in _createdBy/_updatedBy.
	DefaultUsername = "sim.admin"
	// MaxBodyBytes is the largest request body the simulator reads.
	MaxBodyBytes = 1 << 20
)

// The server's own error texts (docs/providers/NOTES.md §3).
const (
	ErrLoggedOut        = "You must be logged in to do this."
	ErrForbidden        = "User does not have the permissions required for this action [error-unauthorized]"
	ErrReadNotFound     = "OAuth app not found."
	ErrUpdateNotFound   = "Application not found [error-application-not-found]"
	ErrResourceNotFound = "Resource not found"
	ErrInternal         = "Internal server error"
	ErrUnavailable      = "Service Unavailable"
)

// Options configure a Server.
type Options struct {
	// UserID and AuthToken are the credentials the server accepts
	// (X-User-Id, X-Auth-Token). An empty value never matches.
	UserID, AuthToken string
	// ForbiddenUserID, if set, is a second user that authenticates with
	// AuthToken but lacks manage-oauth-apps: its updates are 403 and its
	// reads do not show clientSecret.
	ForbiddenUserID string
	// Username is the user's name in _createdBy/_updatedBy. Default
	// DefaultUsername.
	Username string
	// Latency is waited before every answer (honouring the request's
	// context).
	Latency time.Duration
	// RateLimit is the number of calls one user may make to one route and
	// method per RateLimitWindow; more is 429. Default DefaultRateLimit.
	RateLimit int
	// RateLimitWindow is the rate limiter's window. Default
	// DefaultRateLimitWindow.
	RateLimitWindow time.Duration
	// Now is the clock for timestamps and rate-limit resets. Default
	// time.Now.
	Now func() time.Time
	// NoRecord turns off request recording (Requests stays empty), for
	// long load runs whose memory must not grow with every request.
	NoRecord bool
}

// App is a stored OAuth app.
type App struct {
	ID           string
	Name         string
	Active       bool
	RedirectURI  string
	ClientID     string
	ClientSecret string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Recorded is one request as the simulator received it.
type Recorded struct {
	Method string
	// Path is the URL path; RawQuery and Query the query string.
	Path     string
	RawQuery string
	Query    url.Values
	// Header is every request header, credentials included.
	Header http.Header
	// Body is the request body (at most MaxBodyBytes).
	Body []byte
	Time time.Time
}

// Fault scripts one failure. Each queued fault is consumed by the first
// request it matches. Delay is applied first; then the first of Reset,
// Garbage, RateLimitReset, Status that is set decides the answer. A fault
// with only Delay set makes a slow, otherwise normal, answer.
type Fault struct {
	// Path limits the fault to requests on this path; "" matches any.
	Path string
	// Status answers with this status and Rocket.Chat's body for it (500
	// "Internal server error", 503 "Service Unavailable", 401, 403, 404,
	// 429, or {success:false, error:<status text>}).
	Status int
	// Error, with Status, replaces the body's error text.
	Error string
	// ErrorType, with Status, adds errorType to the body.
	ErrorType string
	// EchoSecrets, with Status, makes the body's error text quote the
	// request's credentials and client secret in many encodings
	// (simkit.EchoText): a provider no redaction may trust.
	EchoSecrets bool
	// RateLimitReset answers 429 with X-RateLimit-Reset = now+RateLimitReset
	// (epoch ms) and Rocket.Chat's "wait N seconds" body.
	RateLimitReset time.Duration
	// Delay waits before answering, honouring the request's context: if the
	// client goes away first, nothing is answered.
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

	mu   sync.Mutex
	apps map[string]*record
}

type record struct {
	App
	updatedBy *userRef
}

// New returns a simulator with no apps.
func New(opts Options) *Server {
	opts.Username = cmp.Or(opts.Username, DefaultUsername)
	opts.RateLimit = cmp.Or(opts.RateLimit, DefaultRateLimit)
	opts.RateLimitWindow = cmp.Or(opts.RateLimitWindow, DefaultRateLimitWindow)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts: opts,
		requests: simkit.NewRecorder(opts.NoRecord, func(r Recorded) Recorded {
			r.Query, r.Header, r.Body = simkit.CloneValues(r.Query), r.Header.Clone(), slices.Clone(r.Body)
			return r
		}),
		rate: simkit.NewRateWindow(opts.RateLimit, opts.RateLimitWindow),
		apps: map[string]*record{},
	}
}

// Seed stores app, replacing any app with its ID, and returns it as stored.
// Empty ID, ClientID and ClientSecret get random values; a zero CreatedAt is
// now, a zero UpdatedAt is CreatedAt. RedirectURI is stored as given.
func (s *Server) Seed(app App) App {
	if app.ID == "" {
		app.ID = meteorID()
	}
	if app.ClientID == "" {
		app.ClientID = meteorID()
	}
	if app.ClientSecret == "" {
		app.ClientSecret = simkit.RandomString(43, secretAlphabet)
	}
	if app.CreatedAt.IsZero() {
		app.CreatedAt = s.opts.Now()
	}
	if app.UpdatedAt.IsZero() {
		app.UpdatedAt = app.CreatedAt
	}
	app.CreatedAt, app.UpdatedAt = app.CreatedAt.UTC(), app.UpdatedAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[app.ID] = &record{App: app}
	return app
}

// App returns the stored app with id.
func (s *Server) App(id string) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.apps[id]
	if !ok {
		return App{}, false
	}
	return r.App, true
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Recorded { return s.requests.All() }

// Fail queues f.
func (s *Server) Fail(f Fault) { s.faults.Push(f) }

// PendingFaults returns the number of queued faults not yet consumed.
func (s *Server) PendingFaults() int { return s.faults.Len() }

// Reset forgets every app, request, queued fault and rate-limit count.
func (s *Server) Reset() {
	s.requests.Reset()
	s.faults.Reset()
	s.rate.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps = map[string]*record{}
}

// ServeHTTP serves the two routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, tooLarge, err := simkit.ReadBody(r, MaxBodyBytes)
	now := s.opts.Now()

	if s.requests.Enabled() { // no header clone when recording is off (load runs)
		s.requests.Record(Recorded{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Query: r.URL.Query(),
			Header: r.Header.Clone(), Body: body, Time: now,
		})
	}
	fault, faulted := s.faults.Pop(func(f Fault) bool { return f.Path == "" || f.Path == r.URL.Path })
	rate := s.rate.Count(r.Method+" "+r.URL.Path+" "+r.Header.Get("X-User-Id"), now)

	if !simkit.Sleep(r.Context(), s.opts.Latency) {
		return
	}
	if faulted {
		if !simkit.Sleep(r.Context(), fault.Delay) {
			return
		}
		if fault.EchoSecrets {
			fault.Error = simkit.EchoText(simkit.RequestSecrets(r, body)...)
		}
		if s.serveFault(w, fault, rate) {
			return
		}
	}
	setRateHeaders(w.Header(), rate)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "could not read the request body"})
		return
	}

	route := r.Method + " " + r.URL.Path
	if route != http.MethodGet+" "+PathGet && route != http.MethodPost+" "+PathUpdate {
		writeJSON(w, http.StatusNotFound, errorBody{Error: ErrResourceNotFound})
		return
	}
	user, ok := s.authenticate(r.Header)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: ErrLoggedOut, Status: "error", Message: ErrLoggedOut})
		return
	}
	permitted := user != s.opts.ForbiddenUserID
	if route == http.MethodPost+" "+PathUpdate && !permitted {
		writeJSON(w, http.StatusForbidden, errorBody{Error: ErrForbidden})
		return
	}
	if rate.Exceeded {
		writeTooManyRequests(w, rate.Reset.Sub(s.opts.Now()))
		return
	}
	if route == http.MethodGet+" "+PathGet {
		s.serveGet(w, r, permitted)
		return
	}
	if tooLarge {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: "request entity too large"})
		return
	}
	s.serveUpdate(w, r, body, user)
}

func (s *Server) authenticate(h http.Header) (user string, ok bool) {
	user, token := h.Get("X-User-Id"), h.Get("X-Auth-Token")
	if !simkit.Equal(token, s.opts.AuthToken) {
		return "", false
	}
	if simkit.Equal(user, s.opts.UserID) || simkit.Equal(user, s.opts.ForbiddenUserID) {
		return user, true
	}
	return "", false
}

func setRateHeaders(h http.Header, rate simkit.RateState) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(rate.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rate.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(rate.Reset.UnixMilli(), 10))
}

// serveFault answers as f says; false means "answer normally" (a Delay-only
// fault).
func (s *Server) serveFault(w http.ResponseWriter, f Fault, rate simkit.RateState) bool {
	switch {
	case f.Reset:
		simkit.ResetConnection(w)
		return true
	case f.Garbage:
		setRateHeaders(w.Header(), rate)
		simkit.WriteGarbage(w)
		return true
	case f.RateLimitReset > 0:
		rate.Remaining, rate.Reset = 0, s.opts.Now().Add(f.RateLimitReset)
		setRateHeaders(w.Header(), rate)
		writeTooManyRequests(w, f.RateLimitReset)
		return true
	case f.Status != 0:
		setRateHeaders(w.Header(), rate)
		body := errorBody{Error: f.Error, ErrorType: f.ErrorType}
		switch f.Status {
		case http.StatusInternalServerError:
			body.Error = cmp.Or(body.Error, ErrInternal)
		case http.StatusServiceUnavailable:
			body.Error = cmp.Or(body.Error, ErrUnavailable)
		case http.StatusUnauthorized:
			body.Error = cmp.Or(body.Error, ErrLoggedOut)
			body.Status, body.Message = "error", body.Error
		case http.StatusForbidden:
			body.Error = cmp.Or(body.Error, ErrForbidden)
		case http.StatusNotFound:
			body.Error = cmp.Or(body.Error, ErrResourceNotFound)
		case http.StatusTooManyRequests:
			if f.Error == "" {
				writeTooManyRequests(w, rate.Reset.Sub(s.opts.Now()))
				return true
			}
		default:
			body.Error = cmp.Or(body.Error, http.StatusText(f.Status))
		}
		writeJSON(w, f.Status, body)
		return true
	}
	return false
}

func writeTooManyRequests(w http.ResponseWriter, wait time.Duration) {
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "Error, too many requests. Please slow down. You must wait " +
		strconv.FormatInt(simkit.CeilSeconds(wait), 10) + " seconds before trying this endpoint again. [error-too-many-requests]"})
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, withSecret bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		invalidQuery(w, "must be object")
		return
	}
	var key, value string
	switch {
	case len(q) == 0:
		invalidQuery(w, "must have required property '_id'\n must have required property 'clientId'\n must match exactly one schema in oneOf")
		return
	case len(q) > 1:
		invalidQuery(w, "must NOT have additional properties\n must NOT have additional properties\n must match exactly one schema in oneOf")
		return
	}
	for k, vs := range q {
		if k != "_id" && k != "clientId" {
			invalidQuery(w, "must have required property '_id'\n must have required property 'clientId'\n must match exactly one schema in oneOf")
			return
		}
		if len(vs) != 1 {
			invalidQuery(w, "/"+k+" must be string\n /"+k+" must be string\n must match exactly one schema in oneOf")
			return
		}
		key, value = k, vs[0]
	}

	s.mu.Lock()
	var found *record
	if key == "_id" {
		found = s.apps[value]
	} else {
		for _, rec := range s.apps {
			if rec.ClientID == value {
				found = rec
				break
			}
		}
	}
	var doc appDoc
	if found != nil {
		doc = toDoc(found, withSecret)
	}
	s.mu.Unlock()

	if found == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: ErrReadNotFound})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		OAuthApp appDoc `json:"oauthApp"`
		Success  bool   `json:"success"`
	}{doc, true})
}

func invalidQuery(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: msg + " [error-invalid-params]", ErrorType: "error-invalid-params"})
}

func invalidBody(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: msg + " [invalid-params]", ErrorType: "invalid-params"})
}

func methodError(w http.ResponseWriter, reason, code string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: reason + " [" + code + "]", ErrorType: code,
		Details: &errorDetails{Method: "updateOAuthApp"}})
}

// updateProperties is the body schema's properties, in schema order, with
// their JSON types.
var updateProperties = []struct{ name, typ string }{
	{"appId", "string"}, {"name", "string"}, {"active", "boolean"}, {"redirectUri", "string"},
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, body []byte, user string) {
	// Like the server, a body that is not declared JSON is not parsed: it
	// is an empty object to the validator.
	var v any = map[string]any{}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&v); err != nil || dec.Decode(new(any)) != io.EOF {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "Invalid JSON body [invalid-params]", ErrorType: "invalid-params"})
			return
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		invalidBody(w, "must be object")
		return
	}
	for _, p := range updateProperties {
		if _, ok := obj[p.name]; !ok {
			invalidBody(w, "must have required property '"+p.name+"'")
			return
		}
	}
	if len(obj) != len(updateProperties) {
		invalidBody(w, "must NOT have additional properties")
		return
	}
	for _, p := range updateProperties {
		var ok bool
		switch p.typ {
		case "string":
			_, ok = obj[p.name].(string)
		case "boolean":
			_, ok = obj[p.name].(bool)
		}
		if !ok {
			invalidBody(w, "/"+p.name+" must be "+p.typ)
			return
		}
	}
	appID, name, active, redirect := obj["appId"].(string), obj["name"].(string), obj["active"].(bool), obj["redirectUri"].(string)

	// updateOAuthApp's own checks, in its order.
	if strings.TrimSpace(name) == "" {
		methodError(w, "Invalid name", "error-invalid-name")
		return
	}
	uris := ParseURIList(redirect)
	if len(uris) == 0 {
		methodError(w, "Invalid redirectUri", "error-invalid-redirectUri")
		return
	}

	s.mu.Lock()
	rec, found := s.apps[appID]
	var doc appDoc
	if found {
		now := s.opts.Now().UTC()
		if !now.After(rec.UpdatedAt) {
			now = rec.UpdatedAt.Add(time.Millisecond)
		}
		rec.Name, rec.Active, rec.RedirectURI = name, active, strings.Join(uris, ",")
		rec.UpdatedAt = now
		rec.updatedBy = &userRef{ID: user, Username: s.opts.Username}
		doc = toDoc(rec, true) // the update answer echoes clientSecret, as the server does
	}
	s.mu.Unlock()

	if !found {
		methodError(w, "Application not found", "error-application-not-found")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		appDoc
		Success bool `json:"success"`
	}{doc, true})
}

// ParseURIList parses a redirectUri value like Rocket.Chat's parseUriList:
// split on "," or "\n", trim, drop empties.
func ParseURIList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type userRef struct {
	ID       string `json:"_id"`
	Username string `json:"username"`
}

type appDoc struct {
	ID           string   `json:"_id"`
	Name         string   `json:"name"`
	Active       bool     `json:"active"`
	ClientID     string   `json:"clientId"`
	ClientSecret *string  `json:"clientSecret,omitempty"`
	RedirectURI  string   `json:"redirectUri"`
	CreatedAt    string   `json:"_createdAt"`
	CreatedBy    userRef  `json:"_createdBy"`
	UpdatedAt    string   `json:"_updatedAt"`
	UpdatedBy    *userRef `json:"_updatedBy,omitempty"`
}

const jsTime = "2006-01-02T15:04:05.000Z07:00"

func toDoc(r *record, withSecret bool) appDoc {
	d := appDoc{
		ID: r.ID, Name: r.Name, Active: r.Active, ClientID: r.ClientID, RedirectURI: r.RedirectURI,
		CreatedAt: r.CreatedAt.UTC().Format(jsTime), CreatedBy: userRef{ID: "system", Username: "system"},
		UpdatedAt: r.UpdatedAt.UTC().Format(jsTime), UpdatedBy: r.updatedBy,
	}
	if withSecret {
		sec := r.ClientSecret
		d.ClientSecret = &sec
	}
	return d
}

type errorDetails struct {
	Method string `json:"method"`
}

type errorBody struct {
	Success   bool          `json:"success"`
	Error     string        `json:"error"`
	ErrorType string        `json:"errorType,omitempty"`
	Status    string        `json:"status,omitempty"`
	Message   string        `json:"message,omitempty"`
	Details   *errorDetails `json:"details,omitempty"`
}

// writeJSON answers status with v as JSON, or Rocket.Chat's 500 if v does
// not encode.
var writeJSON = simkit.JSONWriter{
	ContentType: "application/json",
	Fallback:    `{"success":false,"error":"Internal server error"}`,
}.Write

const (
	meteorAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// meteorID returns a random 17-character Meteor id, the shape of
// Rocket.Chat's _id and clientId.
func meteorID() string { return simkit.RandomString(17, meteorAlphabet) }
