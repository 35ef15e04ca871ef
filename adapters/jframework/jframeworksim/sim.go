package jframeworksim

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
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

// PathPrefix is the route the simulator serves: GET and PUT on
// PathPrefix+{id}.
const PathPrefix = "/api/v1/app-integrations/authentication/"

// StatusUsageLimit is jframework's custom 209, "The user has exceeded the
// feature usage limit".
const StatusUsageLimit = 209

// Defaults of Options.
const (
	// DefaultRateLimit is the number of calls per window when
	// Options.RateLimit is zero: high enough that tests and the dev demo
	// are not throttled unless they ask to be. (The rate-limiting page's
	// example shows X-RateLimit-Limit: 60.)
	DefaultRateLimit = 1000
	// DefaultRateLimitWindow is the window when Options.RateLimitWindow is
	// zero.
	DefaultRateLimitWindow = time.Minute
	// MaxBodyBytes is the largest request body the simulator reads.
	MaxBodyBytes = 1 << 20
)

// The status values (the SDK's AppIntegrationAuthenticationStatus).
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// Error codes in errors[].code. The documented ones come from the errors
// page and the rate-limiting page; the others are the simulator's own
// choice, because the documents name no code for them.
const (
	CodeAuthenticationNotFound = "AppIntegrationAuthenticationNotFound" // documented, 404
	CodeAppIntegrationNotFound = "AppIntegrationNotFound"               // documented, 404
	CodeConflictSetting        = "AppIntegrationConflictSetting"        // documented, 409
	CodeRateLimitExceeded      = "RateLimitExceeded"                    // documented, 429
	CodeUnauthorized           = "Unauthorized"                         // the simulator's choice, 401
	CodeForbidden              = "Forbidden"                            // the simulator's choice, 403
	CodeInvalidRequest         = "InvalidRequest"                       // the simulator's choice, 400 (validation)
	CodeUnsupportedMediaType   = "UnsupportedMediaType"                 // the simulator's choice, 415
	CodeUsageLimitExceeded     = "FeatureUsageLimitExceeded"            // the simulator's choice, 209
	CodeInternal               = "InternalServerError"                  // the simulator's choice, 500
)

// The texts of the envelopes: message is the envelope's, the Err* ones are
// errors[].message. Documented texts are quoted from the documents.
const (
	MsgSuccess                = "The request was successful."                             // the update page's example
	MsgFailed                 = "The request was not successful."                         // the simulator's choice
	MsgAuthenticationNotFound = "The AppSettingAuthentication is not found."              // the read page's 404
	MsgRateLimited            = "The user has exceeded the rate limit"                    // the read page's 429
	MsgUsageLimit             = "The user has exceeded the feature usage limit."          // the overview's 209
	ErrAuthenticationNotFound = "The app authentication was not found in the system."     // errors page
	ErrAppIntegrationNotFound = "The AppIntegration was not found in the system."         // errors page
	ErrRateLimited            = "API call exceeded rate limit due to too many requests."  // rate-limiting page
	ErrUnauthorized           = "The request is not authenticated."                       // the simulator's choice
	ErrInternal               = "An unexpected error occurred on the server."             // the simulator's choice
	ErrUsageLimit             = "The feature usage limit of the brand has been exceeded." // the simulator's choice
)

// LoginPath is the login endpoint the simulator serves (POST).
const LoginPath = "/api/v1/users/auth"

// DefaultKeyLifetime is the lifetime of the Auth-Keys a login issues when
// Options.KeyLifetime is zero.
const DefaultKeyLifetime = time.Hour

// Options configure a Server.
type Options struct {
	// BrandURL and AuthKey are the Brand-URL and a fixed Auth-Key the
	// server accepts; the fixed key never expires. An empty value never
	// matches.
	BrandURL, AuthKey string
	// Username and Password are what the login accepts (with BrandURL). An
	// empty value never matches.
	Username, Password string
	// KeyLifetime is the lifetime (expiresIn) of the Auth-Keys a login
	// issues; an expired key is refused with 401 on every call. Default
	// DefaultKeyLifetime.
	KeyLifetime time.Duration
	// Latency is waited before every answer (honouring the request's
	// context).
	Latency time.Duration
	// RateLimit is the number of calls one Auth-Key may make per
	// RateLimitWindow; more is 429. Default DefaultRateLimit.
	RateLimit int
	// RateLimitWindow is the rate limiter's window. Default
	// DefaultRateLimitWindow.
	RateLimitWindow time.Duration
	// Now is the clock for rate-limit resets and created dates. Default
	// time.Now.
	Now func() time.Time
	// NoRecord turns off request recording (Requests stays empty), for
	// long load runs whose memory must not grow with every request.
	NoRecord bool
}

// AppIntegration is an app integration (the read's data.appIntegration).
type AppIntegration struct {
	ID          string
	Type        string // Analytics, Authenticate, CDN, PaymentGateway, …
	Name        string
	Domain      string
	Description *string
	LogoURL     *string
	Status      string // Active, Inactive
}

// Integration is a stored app integration authentication. Nil pointers are
// null.
type Integration struct {
	ID             string
	AppIntegration AppIntegration
	Code           string
	Name           string
	ProjectID      string
	ClientID       string
	ClientSecret   string
	RedirectURI    string
	Scope          string
	AuthEndpoint   *string
	TokenEndpoint  *string
	IconURL        *string
	Tags           *string
	Description    *string
	Status         string
	IsDefault      bool
	CreatedDate    time.Time
}

func (in Integration) clone() Integration {
	for _, p := range []**string{&in.AuthEndpoint, &in.TokenEndpoint, &in.IconURL, &in.Tags, &in.Description,
		&in.AppIntegration.Description, &in.AppIntegration.LogoURL} {
		*p = clonePtr(*p)
	}
	return in
}

func (ai AppIntegration) clone() AppIntegration {
	ai.Description, ai.LogoURL = clonePtr(ai.Description), clonePtr(ai.LogoURL)
	return ai
}

func clonePtr(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
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
// Garbage, RateLimitReset, Unsuccessful, Status that is set decides the
// answer. A fault with only Delay set makes a slow, otherwise normal, answer.
type Fault struct {
	// Method and Path limit the fault to requests with this method and on
	// this path; "" matches any.
	Method, Path string
	// Status answers with this status and jframework's envelope for it
	// (success:false, statusCode, message, data:null, errors[] with a
	// correlationId). StatusUsageLimit (209) is the usage-limit answer;
	// 429 carries the window's X-RateLimit-Reset.
	Status int
	// Code and Error, with Status or Unsuccessful, replace errors[0].code
	// and errors[0].message.
	Code, Error string
	// Unsuccessful answers HTTP 200 with an envelope that says
	// success:false, with statusCode Status (200 when Status is zero).
	Unsuccessful bool
	// RateLimitReset answers 429 RateLimitExceeded with X-RateLimit-Reset =
	// now+RateLimitReset, rounded up to epoch seconds.
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

	mu    sync.Mutex
	auths map[string]*Integration
	apps  map[string]AppIntegration
	// issued maps each Auth-Key a login issued to its expiry.
	issued map[string]time.Time
	logins int
}

// New returns a simulator with no app integrations.
func New(opts Options) *Server {
	opts.RateLimit = cmp.Or(opts.RateLimit, DefaultRateLimit)
	opts.RateLimitWindow = cmp.Or(opts.RateLimitWindow, DefaultRateLimitWindow)
	opts.KeyLifetime = cmp.Or(opts.KeyLifetime, DefaultKeyLifetime)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts: opts,
		requests: simkit.NewRecorder(opts.NoRecord, func(r Recorded) Recorded {
			r.Header, r.Body = r.Header.Clone(), slices.Clone(r.Body)
			return r
		}),
		rate:   simkit.NewRateWindow(opts.RateLimit, opts.RateLimitWindow),
		auths:  map[string]*Integration{},
		apps:   map[string]AppIntegration{},
		issued: map[string]time.Time{},
	}
}

// SeedAppIntegration stores an app integration (one an update may move an
// authentication to), replacing any with its ID, and returns it as stored.
// An empty ID gets a random one; empty Type, Name, Domain and Status get the
// values of a Google sign-in integration.
func (s *Server) SeedAppIntegration(ai AppIntegration) AppIntegration {
	ai = defaultApp(ai.clone())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[ai.ID] = ai
	return ai.clone()
}

func defaultApp(ai AppIntegration) AppIntegration {
	ai.ID = cmp.Or(ai.ID, randomID())
	ai.Type = cmp.Or(ai.Type, "Authenticate")
	ai.Name = cmp.Or(ai.Name, "Google")
	ai.Domain = cmp.Or(ai.Domain, "https://accounts.google.com")
	ai.Status = cmp.Or(ai.Status, StatusActive)
	return ai
}

// Seed stores in, replacing any authentication with its ID, and its app
// integration (as SeedAppIntegration does), and returns it as stored. An
// empty ID or ClientSecret gets a random value, an empty Status is Active, a
// zero CreatedDate is now. The other fields are stored as given, whether
// the update endpoint would accept them or not.
func (s *Server) Seed(in Integration) Integration {
	in = in.clone()
	in.ID = cmp.Or(in.ID, randomID())
	in.ClientSecret = cmp.Or(in.ClientSecret, simkit.RandomString(40, secretAlphabet))
	in.Status = cmp.Or(in.Status, StatusActive)
	if in.CreatedDate.IsZero() {
		in.CreatedDate = s.opts.Now()
	}
	in.CreatedDate = in.CreatedDate.UTC()
	in.AppIntegration = defaultApp(in.AppIntegration)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[in.AppIntegration.ID] = in.AppIntegration.clone()
	stored := in.clone()
	s.auths[in.ID] = &stored
	return in
}

// Integration returns the stored authentication with id.
func (s *Server) Integration(id string) (Integration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.auths[id]
	if !ok {
		return Integration{}, false
	}
	return in.clone(), true
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Recorded { return s.requests.All() }

// Fail queues f.
func (s *Server) Fail(f Fault) { s.faults.Push(f) }

// PendingFaults returns the number of queued faults not yet consumed.
func (s *Server) PendingFaults() int { return s.faults.Len() }

// Reset forgets every authentication, app integration, request, queued
// fault and rate-limit count.
func (s *Server) Reset() {
	s.requests.Reset()
	s.faults.Reset()
	s.rate.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths = map[string]*Integration{}
	s.apps = map[string]AppIntegration{}
}

// ServeHTTP serves GET and PUT on PathPrefix+{id}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, tooLarge, err := simkit.ReadBody(r, MaxBodyBytes)
	now := s.opts.Now()

	if s.requests.Enabled() { // no header clone when recording is off (load runs)
		s.requests.Record(Recorded{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Time: now,
		})
	}
	fault, faulted := s.faults.Pop(func(f Fault) bool {
		return (f.Method == "" || f.Method == r.Method) && (f.Path == "" || f.Path == r.URL.Path)
	})
	rate := s.rate.Count(r.Header.Get("Auth-Key"), now)

	if !simkit.Sleep(r.Context(), s.opts.Latency) {
		return
	}
	if faulted {
		if !simkit.Sleep(r.Context(), fault.Delay) {
			return
		}
		if s.serveFault(w, fault, rate) {
			return
		}
	}
	setRateHeaders(w.Header(), rate)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "The request body could not be read.")
		return
	}

	if r.URL.Path == LoginPath {
		s.serveLogin(w, r, body, now)
		return
	}
	id, routed := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !routed || id == "" || strings.Contains(id, "/") {
		// An unknown route: an empty 404, as an ASP.NET server answers.
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPut {
		w.Header().Set("Allow", "GET, PUT")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if !s.authenticated(r.Header) {
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, ErrUnauthorized)
		return
	}
	if rate.Exceeded {
		writeTooManyRequests(w)
		return
	}
	if r.Method == http.MethodGet {
		s.serveGet(w, id)
		return
	}
	if tooLarge {
		writeError(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest, "The request body is too large.")
		return
	}
	s.servePut(w, r, id, body)
}

// authenticated checks Brand-URL and Auth-Key: Options.AuthKey, or a key a
// login issued that has not expired nor been revoked.
func (s *Server) authenticated(h http.Header) bool {
	if !simkit.Equal(h.Get("Brand-URL"), s.opts.BrandURL) {
		return false
	}
	key := h.Get("Auth-Key")
	if simkit.Equal(key, s.opts.AuthKey) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, issued := s.issued[key]
	return issued && s.opts.Now().Before(exp)
}

// epochSeconds is t in epoch seconds, rounded up: the reset is never
// announced before it happens.
func epochSeconds(t time.Time) int64 {
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return secs
}

func setRateHeaders(h http.Header, rate simkit.RateState) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(rate.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rate.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(epochSeconds(rate.Reset), 10))
}

// serveFault answers as f says; false means "answer normally" (a Delay-only
// fault).
func (s *Server) serveFault(w http.ResponseWriter, f Fault, rate simkit.RateState) bool {
	switch {
	case f.Reset:
		simkit.ResetConnection(w)
	case f.Garbage:
		setRateHeaders(w.Header(), rate)
		simkit.WriteGarbage(w)
	case f.RateLimitReset > 0:
		rate.Remaining, rate.Reset = 0, s.opts.Now().Add(f.RateLimitReset)
		setRateHeaders(w.Header(), rate)
		writeTooManyRequests(w)
	case f.Unsuccessful || f.Status != 0:
		status := cmp.Or(f.Status, http.StatusOK)
		if status == http.StatusTooManyRequests {
			rate.Remaining = 0
		}
		setRateHeaders(w.Header(), rate)
		message, code, text := faultTexts(status)
		env := failure(status, message, cmp.Or(f.Code, code), cmp.Or(f.Error, text))
		if f.Unsuccessful {
			writeJSON(w, http.StatusOK, env)
		} else {
			writeJSON(w, status, env)
		}
	default:
		return false
	}
	return true
}

// faultTexts are the envelope message, error code and error text a faulted
// status answers with.
func faultTexts(status int) (message, code, text string) {
	switch status {
	case http.StatusUnauthorized:
		return MsgFailed, CodeUnauthorized, ErrUnauthorized
	case http.StatusForbidden:
		return MsgFailed, CodeForbidden, "Access denied."
	case http.StatusNotFound:
		return MsgAuthenticationNotFound, CodeAuthenticationNotFound, ErrAuthenticationNotFound
	case http.StatusConflict:
		return MsgFailed, CodeConflictSetting, "The app integration request was conflict setting."
	case http.StatusTooManyRequests:
		return MsgRateLimited, CodeRateLimitExceeded, ErrRateLimited
	case StatusUsageLimit:
		return MsgUsageLimit, CodeUsageLimitExceeded, ErrUsageLimit
	case http.StatusOK: // an Unsuccessful fault without a status
		return MsgFailed, "RequestFailed", "The request failed."
	case http.StatusInternalServerError:
		return MsgFailed, CodeInternal, ErrInternal
	}
	text = cmp.Or(http.StatusText(status), "Status "+strconv.Itoa(status))
	return MsgFailed, strings.ReplaceAll(text, " ", ""), text + "."
}

func writeTooManyRequests(w http.ResponseWriter) {
	writeJSON(w, http.StatusTooManyRequests, failure(http.StatusTooManyRequests, MsgRateLimited, CodeRateLimitExceeded, ErrRateLimited))
}

func (s *Server) serveGet(w http.ResponseWriter, id string) {
	s.mu.Lock()
	in, ok := s.auths[id]
	var doc authenticationDoc
	if ok {
		doc = toDoc(in)
	}
	s.mu.Unlock()
	if !ok {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, success(doc))
}

func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, failure(http.StatusNotFound, MsgAuthenticationNotFound, CodeAuthenticationNotFound, ErrAuthenticationNotFound))
}

// The update body's properties (the update page), in its order.
var (
	requiredProperties = []string{"appIntegrationId", "code", "name", "projectId", "clientId", "clientSecret", "redirectURI", "scope"}
	uriProperties      = []string{"authEndpoint", "tokenEndpoint", "iconURL"}
	nullableProperties = []string{"tags", "description"}
	otherProperties    = []string{"status", "isDefault"}
)

func isProperty(k string) bool {
	for _, list := range [][]string{requiredProperties, uriProperties, nullableProperties, otherProperties} {
		if slices.Contains(list, k) {
			return true
		}
	}
	return false
}

// validateUpdate checks the body against the update page and returns
// jframework-style error texts, one per problem, in a stable order.
func validateUpdate(obj map[string]any) []string {
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !isProperty(k) {
			problems = append(problems, fmt.Sprintf("The field %q is not a property of the request.", k))
		}
	}
	for _, k := range requiredProperties {
		v, present := obj[k]
		s, isString := v.(string)
		switch {
		case !present || v == nil:
			problems = append(problems, fmt.Sprintf("The %s field is required.", k))
		case !isString:
			problems = append(problems, fmt.Sprintf("The %s field must be a string.", k))
		case s == "":
			problems = append(problems, fmt.Sprintf("The field %s must be a string with a minimum length of 1.", k))
		}
	}
	for _, k := range uriProperties {
		switch v := obj[k].(type) {
		case nil:
		case string:
			if !isURI(v) {
				problems = append(problems, fmt.Sprintf("The %s field is not a valid fully-qualified URI.", k))
			}
		default:
			problems = append(problems, fmt.Sprintf("The %s field must be a string or null.", k))
		}
	}
	for _, k := range nullableProperties {
		switch obj[k].(type) {
		case nil, string:
		default:
			problems = append(problems, fmt.Sprintf("The %s field must be a string or null.", k))
		}
	}
	if v, present := obj["status"]; present && v != StatusActive && v != StatusInactive {
		problems = append(problems, "The status field must be one of: Inactive, Active.")
	}
	if v, present := obj["isDefault"]; present {
		if _, ok := v.(bool); !ok {
			problems = append(problems, "The isDefault field must be a boolean.")
		}
	}
	return problems
}

func (s *Server) servePut(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "The request body must be application/json.")
		return
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil || dec.Decode(new(any)) != io.EOF {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "The request body is not valid JSON.")
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "The request body must be a JSON object.")
		return
	}
	if problems := validateUpdate(obj); len(problems) > 0 {
		env := failure(http.StatusBadRequest, MsgFailed, "", "")
		env.Errors = env.Errors[:0]
		cid := env.correlationID
		for _, p := range problems {
			env.Errors = append(env.Errors, apiError{Code: CodeInvalidRequest, Message: p, CorrelationID: cid})
		}
		writeJSON(w, http.StatusBadRequest, env)
		return
	}

	nullable := func(k string) *string {
		if s, ok := obj[k].(string); ok {
			return &s
		}
		return nil
	}
	s.mu.Lock()
	in, found := s.auths[id]
	app, appFound := s.apps[obj["appIntegrationId"].(string)]
	var doc authenticationDoc
	if found && appFound {
		// A full replacement: what the body leaves out is cleared. A
		// missing status becomes Inactive, the enum's first value (0);
		// a missing isDefault is false, its documented default.
		*in = Integration{
			ID:             in.ID,
			CreatedDate:    in.CreatedDate,
			AppIntegration: app.clone(),
			Code:           obj["code"].(string),
			Name:           obj["name"].(string),
			ProjectID:      obj["projectId"].(string),
			ClientID:       obj["clientId"].(string),
			ClientSecret:   obj["clientSecret"].(string),
			RedirectURI:    obj["redirectURI"].(string),
			Scope:          obj["scope"].(string),
			AuthEndpoint:   nullable("authEndpoint"),
			TokenEndpoint:  nullable("tokenEndpoint"),
			IconURL:        nullable("iconURL"),
			Tags:           nullable("tags"),
			Description:    nullable("description"),
			Status:         StatusInactive,
		}
		if st, ok := obj["status"].(string); ok {
			in.Status = st
		}
		in.IsDefault, _ = obj["isDefault"].(bool)
		doc = toDoc(in)
	}
	s.mu.Unlock()

	switch {
	case !found:
		writeNotFound(w)
	case !appFound:
		writeJSON(w, http.StatusNotFound, failure(http.StatusNotFound, MsgFailed, CodeAppIntegrationNotFound, ErrAppIntegrationNotFound))
	default:
		writeJSON(w, http.StatusOK, success(doc))
	}
}

// isURI reports whether s is an absolute URI (RFC 3986, JSON Schema's
// format uri): a scheme, and only characters URI syntax allows.
func isURI(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"<>\^`+"`{|}", c) >= 0 {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
}

type appIntegrationDoc struct {
	Type        string  `json:"type"`
	Name        string  `json:"name"`
	Domain      string  `json:"domain"`
	Description *string `json:"description"`
	LogoURL     *string `json:"logoURL"`
	Status      string  `json:"status"`
	ID          string  `json:"id"`
}

// authenticationDoc is the read's data, in the order of the read page's
// example.
type authenticationDoc struct {
	AppIntegration appIntegrationDoc `json:"appIntegration"`
	IsDefault      bool              `json:"isDefault"`
	Status         string            `json:"status"`
	Description    *string           `json:"description"`
	Tags           *string           `json:"tags"`
	IconURL        *string           `json:"iconURL"`
	TokenEndpoint  *string           `json:"tokenEndpoint"`
	ID             string            `json:"id"`
	AuthEndpoint   *string           `json:"authEndpoint"`
	RedirectURI    string            `json:"redirectURI"`
	ClientSecret   string            `json:"clientSecret"`
	ClientID       string            `json:"clientId"`
	ProjectID      string            `json:"projectId"`
	Name           string            `json:"name"`
	Code           string            `json:"code"`
	Scope          string            `json:"scope"`
}

func toDoc(in *Integration) authenticationDoc {
	ai := in.AppIntegration
	return authenticationDoc{
		AppIntegration: appIntegrationDoc{Type: ai.Type, Name: ai.Name, Domain: ai.Domain,
			Description: clonePtr(ai.Description), LogoURL: clonePtr(ai.LogoURL), Status: ai.Status, ID: ai.ID},
		IsDefault: in.IsDefault, Status: in.Status, Description: clonePtr(in.Description), Tags: clonePtr(in.Tags),
		IconURL: clonePtr(in.IconURL), TokenEndpoint: clonePtr(in.TokenEndpoint), ID: in.ID,
		AuthEndpoint: clonePtr(in.AuthEndpoint), RedirectURI: in.RedirectURI, ClientSecret: in.ClientSecret,
		ClientID: in.ClientID, ProjectID: in.ProjectID, Name: in.Name, Code: in.Code, Scope: in.Scope,
	}
}

// envelope is jframework's response body (the errors page's "API Response
// Format"; errors[].message as in its field table and the SDK).
type envelope struct {
	Success    bool       `json:"success"`
	StatusCode int        `json:"statusCode"`
	Message    string     `json:"message"`
	Data       any        `json:"data"`
	Errors     []apiError `json:"errors"`

	correlationID string
}

type apiError struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
}

func success(data any) envelope {
	return envelope{Success: true, StatusCode: http.StatusOK, Message: MsgSuccess, Data: data, Errors: []apiError{}}
}

func failure(status int, message, code, text string) envelope {
	cid := correlationID()
	return envelope{StatusCode: status, Message: message, Errors: []apiError{{Code: code, Message: text, CorrelationID: cid}},
		correlationID: cid}
}

func writeError(w http.ResponseWriter, status int, code, text string) {
	writeJSON(w, status, failure(status, MsgFailed, code, text))
}

// writeJSON answers status with v as JSON, or jframework's 500 envelope if
// v does not encode.
var writeJSON = simkit.JSONWriter{
	ContentType: "application/json; charset=utf-8",
	Fallback:    `{"success":false,"statusCode":500,"message":"` + MsgFailed + `","data":null,"errors":[]}`,
}.Write

const (
	idAlphabet     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// randomID returns a random 18-character id, the shape of the documents'
// example sApKpllz4sAplsmzha.
func randomID() string { return simkit.RandomString(18, idAlphabet) }

// correlationID returns a random id in the form of a GUID.
func correlationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
