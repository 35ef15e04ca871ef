package hdpsim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/adapters/internal/simkit"
)

// PathPrefix is the OAuth application objects' path; an object is at
// PathPrefix + "/" + id.
const PathPrefix = "/api/mgmt/oauthapps"

// Defaults of Options.
const (
	// DefaultUserTenantID is the tenant of the simulated user when
	// Options.UserTenantID is zero: the system tenant, id 1 in HDP's Tenant
	// API sample ({"id": 1, "name": "System"}).
	DefaultUserTenantID int64 = 1
	// DefaultRateLimitWindow is the window when Options.RateLimitWindow is
	// zero.
	DefaultRateLimitWindow = time.Minute
	// MaxBodyBytes is the largest request body the simulator reads.
	MaxBodyBytes = 1 << 20
	// MaskedSecret is what the read shows for clientSecret with
	// Options.MaskSecrets.
	MaskedSecret = "********"
)

// Error codes and texts of the answers. HDP documents the envelope, the
// 500 text and code (on a sibling OAuth endpoint), the 403 text and code (on
// the Tenant API) and the 400 text ("The JSON request is invalid"); it does
// not document codes for the other answers, for which the simulator uses
// the HTTP status as the code.
const (
	CodeInternal  = 222206631
	ErrInternal   = "Problem getting OAuth Client Application at this time. Please try again at another time."
	CodeForbidden = 222208103
	ErrForbidden  = "You lack the permissions to access this url."

	ErrInvalidJSON     = "The JSON request is invalid"
	ErrUnauthorized    = "Invalid login ID or password."
	ErrNotFound        = "There is no OAuth application with that id."
	ErrNoRoute         = "Resource not found."
	ErrMethod          = "Method not allowed."
	ErrMediaType       = "Unsupported media type: the request body must be application/json."
	ErrTooManyRequests = "Too many requests."
	ErrTooLarge        = "Request entity too large."
)

// NamePattern is the document's rule for name: "The name can contain only
// alphanumeric characters and the underscore character."
var NamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Options configure a Server.
type Options struct {
	// Username and Password are the credentials the server accepts (HTTP
	// Basic). An empty value never matches.
	Username, Password string
	// UserTenantID is the tenant the user belongs to: a PUT without
	// tenantId moves the object there. Default DefaultUserTenantID.
	UserTenantID int64
	// MaskSecrets makes the read show clientSecret as MaskedSecret (HDP
	// documents clientSecret in the read, not whether it is masked).
	MaskSecrets bool
	// Latency is waited before every answer (honouring the request's
	// context).
	Latency time.Duration
	// RateLimit is the number of calls one user may make per
	// RateLimitWindow; more is 429 with Retry-After. Zero means no limit:
	// HDP documents none (a proxy in front of it may have one).
	RateLimit int
	// RateLimitWindow is the rate limiter's window. Default
	// DefaultRateLimitWindow.
	RateLimitWindow time.Duration
	// Now is the clock for request times and rate-limit windows. Default
	// time.Now.
	Now func() time.Time
	// NoRecord turns off request recording (Requests stays empty), for
	// long load runs whose memory must not grow with every request.
	NoRecord bool
}

// App is a stored OAuth application object.
type App struct {
	ID           int64
	Name         string
	DataStore    int64
	TenantID     int64
	Description  string
	ClientID     string
	ClientSecret string
	AuthorizeURI string
	TokenURI     string
	Scope        string
}

// Recorded is one request as the simulator received it.
type Recorded struct {
	Method string
	// Path is the URL path; RawQuery the query string.
	Path     string
	RawQuery string
	// Header is every request header, credentials included.
	Header http.Header
	// Body is the request body (at most MaxBodyBytes).
	Body []byte
	Time time.Time
}

// Fault scripts one failure. Each queued fault is consumed by the first
// request it matches. Delay is applied first; then the first of Reset,
// Garbage, RetryAfter, Status that is set decides the answer. A fault with
// only Delay set makes a slow, otherwise normal, answer.
type Fault struct {
	// Method limits the fault to requests with this method ("PUT" for the
	// next write); "" matches any.
	Method string
	// Status answers with this status and HDP's error envelope (500
	// ErrInternal, 403 ErrForbidden, 401 ErrUnauthorized, 404 ErrNotFound,
	// 429 ErrTooManyRequests, or the status text).
	Status int
	// Code, with Status, replaces the envelope's code.
	Code int
	// Message, with Status, replaces the envelope's text.
	Message string
	// EchoSecrets, with Status, makes the envelope's text quote the
	// request's credentials (the Authorization header and the Basic auth
	// password) and client secret in many encodings (simkit.EchoText): a
	// provider no redaction may trust.
	EchoSecrets bool
	// RetryAfter sends Retry-After: RetryAfter in seconds (rounded up). Alone,
	// it answers 429.
	RetryAfter time.Duration
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
	apps map[int64]App
}

// New returns a simulator with no objects.
func New(opts Options) *Server {
	opts.UserTenantID = cmp.Or(opts.UserTenantID, DefaultUserTenantID)
	opts.RateLimitWindow = cmp.Or(opts.RateLimitWindow, DefaultRateLimitWindow)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts: opts,
		requests: simkit.NewRecorder(opts.NoRecord, func(r Recorded) Recorded {
			r.Header, r.Body = r.Header.Clone(), slices.Clone(r.Body)
			return r
		}),
		rate: simkit.NewRateWindow(opts.RateLimit, opts.RateLimitWindow),
		apps: map[int64]App{},
	}
}

// Seed stores app, replacing any object with its ID, and returns it as
// stored. A zero ID is the next free id; a zero TenantID is the user's
// tenant; an empty ClientID or ClientSecret gets a random value. The other
// fields are stored as given (Seed does not validate).
func (s *Server) Seed(app App) App {
	s.mu.Lock()
	defer s.mu.Unlock()
	if app.ID == 0 {
		app.ID = 1
		for id := range s.apps {
			app.ID = max(app.ID, id+1)
		}
	}
	app.TenantID = cmp.Or(app.TenantID, s.opts.UserTenantID)
	if app.ClientID == "" {
		app.ClientID = simkit.RandomString(24, idAlphabet)
	}
	if app.ClientSecret == "" {
		app.ClientSecret = simkit.RandomString(32, secretAlphabet)
	}
	s.apps[app.ID] = app
	return app
}

// App returns the stored object with id.
func (s *Server) App(id int64) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.apps[id]
	return app, ok
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Recorded { return s.requests.All() }

// Fail queues f.
func (s *Server) Fail(f Fault) { s.faults.Push(f) }

// PendingFaults returns the number of queued faults not yet consumed.
func (s *Server) PendingFaults() int { return s.faults.Len() }

// Reset forgets every object, request, queued fault and rate-limit count.
func (s *Server) Reset() {
	s.requests.Reset()
	s.faults.Reset()
	s.rate.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps = map[int64]App{}
}

// ServeHTTP serves GET and PUT on PathPrefix/{id}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, tooLarge, readErr := simkit.ReadBody(r, MaxBodyBytes)
	now := s.opts.Now()
	user, _, _ := r.BasicAuth()

	if s.requests.Enabled() { // no header clone when recording is off (load runs)
		s.requests.Record(Recorded{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Time: now,
		})
	}
	fault, faulted := s.faults.Pop(func(f Fault) bool { return f.Method == "" || f.Method == r.Method })
	rate := s.rate.Count(user, now)

	if !simkit.Sleep(r.Context(), s.opts.Latency) {
		return
	}
	if faulted {
		if !simkit.Sleep(r.Context(), fault.Delay) {
			return
		}
		if fault.EchoSecrets {
			fault.Message = simkit.EchoText(simkit.RequestSecrets(r, body)...)
		}
		if serveFault(w, fault) {
			return
		}
	}
	if !s.authenticate(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Hybrid Data Pipeline"`)
		writeError(w, http.StatusUnauthorized, http.StatusUnauthorized, ErrUnauthorized)
		return
	}
	if rate.Exceeded {
		writeTooManyRequests(w, rate.Reset.Sub(now))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		writeError(w, http.StatusNotFound, http.StatusNotFound, ErrNoRoute)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPut {
		w.Header().Set("Allow", "GET, PUT")
		writeError(w, http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, ErrMethod)
		return
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, http.StatusNotFound, ErrNotFound)
		return
	}
	if r.Method == http.MethodGet {
		s.serveGet(w, id)
		return
	}
	switch {
	case readErr != nil:
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, ErrInvalidJSON+": the body could not be read")
	case tooLarge:
		writeError(w, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, ErrTooLarge)
	default:
		s.servePut(w, r, id, body)
	}
}

func (s *Server) authenticate(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && simkit.Equal(user, s.opts.Username) && simkit.Equal(pass, s.opts.Password)
}

// serveFault answers as f says; false means "answer normally" (a
// Delay-only fault).
func serveFault(w http.ResponseWriter, f Fault) bool {
	switch {
	case f.Reset:
		simkit.ResetConnection(w)
		return true
	case f.Garbage:
		simkit.WriteGarbage(w)
		return true
	case f.Status != 0 || f.RetryAfter > 0:
		status := cmp.Or(f.Status, http.StatusTooManyRequests)
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfterSeconds(f.RetryAfter))
		}
		code, msg := status, http.StatusText(status)
		switch status {
		case http.StatusInternalServerError:
			code, msg = CodeInternal, ErrInternal
		case http.StatusForbidden:
			code, msg = CodeForbidden, ErrForbidden
		case http.StatusUnauthorized:
			msg = ErrUnauthorized
		case http.StatusNotFound:
			msg = ErrNotFound
		case http.StatusBadRequest:
			msg = ErrInvalidJSON
		case http.StatusTooManyRequests:
			msg = ErrTooManyRequests
		}
		writeError(w, status, cmp.Or(f.Code, code), cmp.Or(f.Message, msg))
		return true
	}
	return false
}

func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(simkit.CeilSeconds(d), 10)
}

func writeTooManyRequests(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfterSeconds(wait))
	writeError(w, http.StatusTooManyRequests, http.StatusTooManyRequests, ErrTooManyRequests)
}

func (s *Server) serveGet(w http.ResponseWriter, id int64) {
	s.mu.Lock()
	app, ok := s.apps[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, http.StatusNotFound, ErrNotFound)
		return
	}
	doc := toDoc(app)
	if s.opts.MaskSecrets {
		doc.ClientSecret = MaskedSecret
	}
	writeJSON(w, http.StatusOK, doc)
}

// The PUT body's properties, in the document's order.
const (
	propName         = "name"
	propDataStore    = "dataStore"
	propTenantID     = "tenantId"
	propDescription  = "description"
	propClientID     = "clientId"
	propClientSecret = "clientSecret"
	propAuthorizeURI = "authorizeURI"
	propTokenURI     = "tokenURI"
	propScope        = "scope"
)

var putProperties = []struct {
	name     string
	integer  bool
	required bool
}{
	{propName, false, true},
	{propDataStore, true, true},
	{propTenantID, true, false},
	{propDescription, false, false},
	{propClientID, false, true},
	{propClientSecret, false, true},
	{propAuthorizeURI, false, true},
	{propTokenURI, false, true},
	{propScope, false, true},
}

// integerLiteral is a JSON number written as an integer.
var integerLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

func invalid(w http.ResponseWriter, detail string) {
	writeError(w, http.StatusBadRequest, http.StatusBadRequest, ErrInvalidJSON+": "+detail)
}

// servePut applies the document: the body is the whole object; required
// fields must be present and non-empty; name matches NamePattern; dataStore
// and tenantId are positive integers; authorizeURI and tokenURI are URLs; an
// unknown key is refused. The stored object is replaced: an omitted
// description is cleared, an omitted tenantId is the user's tenant.
func (s *Server) servePut(w http.ResponseWriter, r *http.Request, id int64, body []byte) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType, ErrMediaType)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.Decode(new(any)) != io.EOF {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, ErrInvalidJSON)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		invalid(w, "the body must be an object")
		return
	}
	known := map[string]bool{}
	for _, p := range putProperties {
		known[p.name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !known[k] {
			invalid(w, strconv.Quote(k)+" is not a property of an OAuth application object")
			return
		}
	}
	strs := map[string]string{}
	ints := map[string]int64{}
	for _, p := range putProperties {
		val, present := obj[p.name]
		if !present || val == nil {
			if p.required {
				invalid(w, strconv.Quote(p.name)+" is required")
				return
			}
			continue
		}
		if p.integer {
			n, ok := val.(json.Number)
			if !ok || !integerLiteral.MatchString(n.String()) {
				invalid(w, strconv.Quote(p.name)+" must be an integer")
				return
			}
			i, err := strconv.ParseInt(n.String(), 10, 64)
			if err != nil || i <= 0 {
				invalid(w, strconv.Quote(p.name)+" must be a valid id")
				return
			}
			ints[p.name] = i
			continue
		}
		str, ok := val.(string)
		if !ok {
			invalid(w, strconv.Quote(p.name)+" must be a string")
			return
		}
		if p.required && strings.TrimSpace(str) == "" {
			invalid(w, strconv.Quote(p.name)+" is required")
			return
		}
		strs[p.name] = str
	}
	if !NamePattern.MatchString(strs[propName]) {
		invalid(w, `"name" can contain only alphanumeric characters and the underscore character`)
		return
	}
	for _, k := range []string{propAuthorizeURI, propTokenURI} {
		if !validURL(strs[k]) {
			invalid(w, strconv.Quote(k)+" must be a valid URL")
			return
		}
	}

	s.mu.Lock()
	_, found := s.apps[id]
	app := App{
		ID: id, Name: strs[propName], DataStore: ints[propDataStore], TenantID: s.opts.UserTenantID,
		Description: strs[propDescription], ClientID: strs[propClientID], ClientSecret: strs[propClientSecret],
		AuthorizeURI: strs[propAuthorizeURI], TokenURI: strs[propTokenURI], Scope: strs[propScope],
	}
	if t, ok := ints[propTenantID]; ok {
		app.TenantID = t
	}
	if found {
		s.apps[id] = app
	}
	s.mu.Unlock()

	if !found {
		writeError(w, http.StatusNotFound, http.StatusNotFound, ErrNotFound)
		return
	}
	writeJSON(w, http.StatusOK, toDoc(app))
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != "" && !strings.ContainsAny(s, " \t\r\n")
}

// appDoc is the object as the API shows it, in the document's key order,
// with the id as a string (the Get page's "id": "93").
type appDoc struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	DataStore    int64  `json:"dataStore"`
	TenantID     int64  `json:"tenantId"`
	Description  string `json:"description"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	AuthorizeURI string `json:"authorizeURI"`
	TokenURI     string `json:"tokenURI"`
	Scope        string `json:"scope"`
}

func toDoc(a App) appDoc {
	return appDoc{
		ID: strconv.FormatInt(a.ID, 10), Name: a.Name, DataStore: a.DataStore, TenantID: a.TenantID,
		Description: a.Description, ClientID: a.ClientID, ClientSecret: a.ClientSecret,
		AuthorizeURI: a.AuthorizeURI, TokenURI: a.TokenURI, Scope: a.Scope,
	}
}

// errorBody is HDP's error envelope.
type errorBody struct {
	Error struct {
		Code    int `json:"code"`
		Message struct {
			Lang  string `json:"lang"`
			Value string `json:"value"`
		} `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	var b errorBody
	b.Error.Code = code
	b.Error.Message.Lang = "en-US"
	b.Error.Message.Value = msg
	writeJSON(w, status, b)
}

// writeJSON answers status with v as JSON, or HDP's 500 envelope if v does
// not encode.
var writeJSON = simkit.JSONWriter{
	ContentType: "application/json",
	Fallback:    `{"error":{"code":222206631,"message":{"lang":"en-US","value":"` + ErrInternal + `"}}}`,
}.Write

const (
	idAlphabet     = "abcdefghijklmnopqrstuvwxyz0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)
