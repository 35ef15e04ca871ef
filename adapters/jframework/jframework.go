package jframework

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/adapters/internal/tokenauth"
	"github.com/oauthsync/oauthsync/messages"
)

// Provider is the provider's name in config and results.
const Provider = "jframework"

// The connection's auth keys.
const (
	// AuthBrandURL is the key of the brand URL sent as Brand-URL.
	AuthBrandURL = "brandURL"
	// AuthKey is the key of the Auth-Key (from POST /api/v1/users/auth)
	// sent as Auth-Key.
	AuthKey = "authKey"
)

// The values of jframework's status enum (docs/providers/NOTES.md §4.2: the SDK's
// AppIntegrationAuthenticationStatus).
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// ResourcePattern is what an app integration authentication id may look
// like. The provider document says only "id string Required" (its examples,
// sApKpllz4sAplsmzha and the SDK's Kd12AnplKdMd5s, are alphanumeric), so this
// is the contract's own resource pattern (docs/CONTRACT.md §2): an id that is one
// plain path segment and nothing else.
var ResourcePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// The endpoint, as path segments under the base URL; the id is appended.
var pathAuthentication = []string{"api", "v1", "app-integrations", "authentication"}

// The native names of the update body's fields.
const (
	fieldAppIntegrationID = "appIntegrationId"
	fieldCode             = "code"
	fieldName             = "name"
	fieldProjectID        = "projectId"
	fieldClientID         = "clientId"
	fieldClientSecret     = "clientSecret"
	fieldRedirectURI      = "redirectURI"
	fieldScope            = "scope"
	fieldAuthEndpoint     = "authEndpoint"
	fieldTokenEndpoint    = "tokenEndpoint"
	fieldIconURL          = "iconURL"
	fieldTags             = "tags"
	fieldDescription      = "description"
	fieldStatus           = "status"
	fieldIsDefault        = "isDefault"
)

var _ adapters.Factory = New

// New builds the jframework adapter for conn. conn.Auth must hold brandURL
// and either authKey (a fixed Auth-Key) or username and password, with
// which the adapter logs in to obtain Auth-Keys itself (see the package
// documentation); all non-blank. Errors name the key, never the value.
func New(conn adapters.Connection) (adapters.Adapter, error) {
	brandURL, tokens, lc, err := credentials(conn)
	if err != nil {
		return nil, err
	}
	static := []string{brandURL}
	if lc != nil {
		static = append(static, lc.password)
	} else {
		static = append(static, tokens.Secrets()...)
	}
	client, err := httpx.New(httpx.Config{
		BaseURL:    conn.BaseURL,
		HTTPClient: conn.HTTPClient,
		Secrets:    static,
	})
	if err != nil {
		return nil, fmt.Errorf("jframework: %w", err)
	}
	a := &adapter{client: client, brandURL: brandURL, tokens: tokens, login: lc, now: time.Now}
	if lc != nil {
		lc.a = a
	}
	return a, nil
}

func validHeaderValue(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}

type adapter struct {
	client   *httpx.Client
	brandURL string
	tokens   *tokenauth.Source
	login    *loginClient // nil with a fixed authKey
	now      func() time.Time
}

// Secrets returns the credentials in use (Auth-Keys, refresh keys,
// password), which change at run time: the worker scrubs them from
// everything it emits.
func (a *adapter) Secrets() []string {
	s := a.tokens.Secrets()
	if a.login != nil {
		s = append(s, a.login.Secrets()...)
	}
	return s
}

// call runs one request with the connection's Auth-Key, renewing it once on
// a 401 (tokenauth.Source.Call). n counts the requests made.
func (a *adapter) call(ctx context.Context, req httpx.Request, n *int) (*httpx.Response, error) {
	resp, calls, err := a.tokens.Call(ctx, func(ctx context.Context, key string) (*httpx.Response, error) {
		req.Header = a.header(key)
		return a.client.Do(ctx, req)
	})
	*n += calls
	return resp, err
}

func (a *adapter) Provider() string { return Provider }

// RequestsPerApply is what one Apply costs the connection's rate limit:
// a read, then a write (none when the values are already in place).
func (a *adapter) RequestsPerApply() int { return 2 }

// Validate implements adapters.Adapter.
func (a *adapter) Validate(u adapters.Update) error {
	_, err := validate(u)
	return err
}

// Apply implements adapters.Adapter.
func (a *adapter) Apply(ctx context.Context, u adapters.Update) (adapters.Outcome, error) {
	st, err := a.read(ctx, u)
	if err != nil {
		return adapters.Outcome{}, err
	}
	if st.body == nil {
		return adapters.Outcome{Status: adapters.Unchanged, Requests: st.requests}, nil
	}
	n := st.requests
	resp, err := a.call(ctx, httpx.Request{
		Method: http.MethodPut,
		Path:   authenticationPath(u.Resource),
		JSON:   st.body,
	}, &n)
	if err != nil {
		return adapters.Outcome{}, err
	}
	if err := a.parseWrite(resp, st.secrets...); err != nil {
		return adapters.Outcome{}, err
	}
	return adapters.Outcome{Status: adapters.Applied, Requests: n}, nil
}

// authenticationPath is the path of one app integration authentication.
func authenticationPath(id string) []string { return append(slices.Clone(pathAuthentication), id) }

// state is an update checked against the current object: everything Apply
// knows before it writes, and all Plan reports.
type state struct {
	cur *authentication
	c   messages.Changes
	nf  nativeFields
	// body is the whole object to PUT; nil when the read already holds
	// every value the update sets (Apply writes nothing).
	body *updateBody
	// secrets are scrubbed from every message beside the credentials: the
	// command's client secret and the read's.
	secrets []string
	// requests counts the requests the read made (two when the Auth-Key
	// was renewed after a 401).
	requests int
}

// read validates u, reads the object (one GET) and, unless it already holds
// every value u sets, overlays u on it. It is the path Apply and Plan share;
// a merge that cannot be written is its error.
func (a *adapter) read(ctx context.Context, u adapters.Update) (*state, error) {
	nf, err := validate(u)
	if err != nil {
		return nil, err
	}
	// The command's own secret is scrubbed too: the provider may echo the
	// body it refuses.
	var secrets []string
	if u.Changes.ClientSecret != nil {
		secrets = append(secrets, u.Changes.ClientSecret.Reveal())
	}
	var n int
	resp, err := a.call(ctx, httpx.Request{Path: authenticationPath(u.Resource)}, &n)
	if err != nil {
		return nil, err
	}
	cur, err := a.parseRead(resp, u.Resource, secrets...)
	if err != nil {
		return nil, err
	}
	if cur.ClientSecret != nil {
		secrets = append(secrets, *cur.ClientSecret)
	}
	st := &state{cur: cur, c: u.Changes, nf: nf, secrets: secrets, requests: n}
	if inPlace(cur, u.Changes, nf, u.Fields()) {
		return st, nil
	}
	body, merr := merge(cur, u.Changes, nf)
	if merr != nil {
		merr.HTTPStatus = resp.Status
		return nil, merr
	}
	st.body = body
	return st, nil
}

// header is every request's header. The overview asks for Content-Type and
// Accept application/json on every call, the read included.
func (a *adapter) header(authKey string) http.Header {
	h := make(http.Header, 4)
	h.Set("Brand-URL", a.brandURL)
	h.Set("Auth-Key", authKey)
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	return h
}

// updateBody is the PUT body: every field of the provider document, in its
// order. The nullable optional fields are always sent (null when there is
// no value), because the PUT replaces the whole object; status and
// isDefault, which are not nullable, are sent whenever a value is known.
type updateBody struct {
	AppIntegrationID string  `json:"appIntegrationId"`
	Code             string  `json:"code"`
	Name             string  `json:"name"`
	ProjectID        string  `json:"projectId"`
	ClientID         string  `json:"clientId"`
	ClientSecret     string  `json:"clientSecret"`
	RedirectURI      string  `json:"redirectURI"`
	Scope            string  `json:"scope"`
	AuthEndpoint     *string `json:"authEndpoint"`
	TokenEndpoint    *string `json:"tokenEndpoint"`
	IconURL          *string `json:"iconURL"`
	Tags             *string `json:"tags"`
	Description      *string `json:"description"`
	Status           *string `json:"status,omitempty"`
	IsDefault        *bool   `json:"isDefault,omitempty"`
}

// statusOf maps canonical active to jframework's status.
func statusOf(active bool) string {
	if active {
		return StatusActive
	}
	return StatusInactive
}

// joinScopes is the native scope for canonical scopes.
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }

// inPlace reports whether cur already holds every value the update sets;
// names are the update's fields (Update.Fields).
func inPlace(cur *authentication, c messages.Changes, nf nativeFields, names []string) bool {
	for _, f := range names {
		if !fieldInPlace(cur, c, nf, f) {
			return false
		}
	}
	return true
}

// fieldInPlace reports whether cur already holds the value the update sets
// for field (a name as Update.Fields gives it); a field the update does not
// set is in place, a name it does not know never is (so that a field added
// to validate but not here is written, never skipped). Scopes are in place
// when the scope string splits into them in order; active when status is
// its Active or Inactive.
func fieldInPlace(cur *authentication, c messages.Changes, nf nativeFields, field string) bool {
	eq := func(have *string, want *string) bool { return want == nil || (have != nil && *have == *want) }
	switch field {
	case messages.FieldName:
		return eq(cur.Name, c.Name)
	case messages.FieldDescription:
		return eq(cur.Description, c.Description)
	case messages.FieldClientID:
		return eq(cur.ClientID, c.ClientID)
	case messages.FieldClientSecret:
		return c.ClientSecret == nil || (cur.ClientSecret != nil && *cur.ClientSecret == c.ClientSecret.Reveal())
	case messages.FieldRedirectURI:
		return eq(cur.RedirectURI, c.RedirectURI)
	case messages.FieldScopes:
		return c.Scopes == nil || (cur.Scope != nil && slices.Equal(strings.Fields(*cur.Scope), *c.Scopes))
	case messages.FieldAuthorizeURL:
		return eq(cur.AuthEndpoint, c.AuthorizeURL)
	case messages.FieldTokenURL:
		return eq(cur.TokenEndpoint, c.TokenURL)
	case messages.FieldActive:
		return c.Active == nil || (cur.Status != nil && *cur.Status == statusOf(*c.Active))
	case messages.ProviderFieldPrefix + fieldAppIntegrationID:
		return eq(cur.appIntegrationID(), nf.AppIntegrationID)
	case messages.ProviderFieldPrefix + fieldCode:
		return eq(cur.Code, nf.Code)
	case messages.ProviderFieldPrefix + fieldProjectID:
		return eq(cur.ProjectID, nf.ProjectID)
	case messages.ProviderFieldPrefix + fieldIconURL:
		return !nf.IconURL.set || sameNullable(cur.IconURL, nf.IconURL.v)
	case messages.ProviderFieldPrefix + fieldTags:
		return !nf.Tags.set || sameNullable(cur.Tags, nf.Tags.v)
	case messages.ProviderFieldPrefix + fieldStatus:
		return eq(cur.Status, nf.Status)
	case messages.ProviderFieldPrefix + fieldIsDefault:
		return nf.IsDefault == nil || (cur.IsDefault != nil && *cur.IsDefault == *nf.IsDefault)
	}
	return false
}

// sameNullable compares two nullable strings (nil is null or absent).
func sameNullable(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// merge overlays the update on the current object: the whole body the PUT
// must send. A required field that the read did not return (or returned
// empty) and the update does not set is an error: the PUT cannot be built
// without it.
func merge(cur *authentication, c messages.Changes, nf nativeFields) (*updateBody, *adapters.Error) {
	var missing *adapters.Error
	required := func(field, native string, set *string, have *string) string {
		switch {
		case set != nil:
			return *set
		case have != nil && *have != "":
			return *have
		}
		if missing == nil {
			missing = &adapters.Error{Kind: adapters.KindRejected, Field: field, Message: fmt.Sprintf(
				"the read did not return %s and the command does not set %q; jframework's update replaces the whole object and requires it",
				native, field)}
		}
		return ""
	}
	var secret *string
	if c.ClientSecret != nil {
		s := c.ClientSecret.Reveal()
		secret = &s
	}
	var scope *string
	if c.Scopes != nil {
		s := joinScopes(*c.Scopes)
		scope = &s
	}
	pf := func(name string) string { return messages.ProviderFieldPrefix + name }
	b := &updateBody{
		AppIntegrationID: required(pf(fieldAppIntegrationID), "appIntegration.id", nf.AppIntegrationID, cur.appIntegrationID()),
		Code:             required(pf(fieldCode), fieldCode, nf.Code, cur.Code),
		Name:             required(messages.FieldName, fieldName, c.Name, cur.Name),
		ProjectID:        required(pf(fieldProjectID), fieldProjectID, nf.ProjectID, cur.ProjectID),
		ClientID:         required(messages.FieldClientID, fieldClientID, c.ClientID, cur.ClientID),
		ClientSecret:     required(messages.FieldClientSecret, fieldClientSecret, secret, cur.ClientSecret),
		RedirectURI:      required(messages.FieldRedirectURI, fieldRedirectURI, c.RedirectURI, cur.RedirectURI),
		Scope:            required(messages.FieldScopes, fieldScope, scope, cur.Scope),
		AuthEndpoint:     cmp.Or(c.AuthorizeURL, cur.AuthEndpoint),
		TokenEndpoint:    cmp.Or(c.TokenURL, cur.TokenEndpoint),
		IconURL:          cur.IconURL,
		Tags:             cur.Tags,
		Description:      cmp.Or(c.Description, cur.Description),
		Status:           cur.Status,
		IsDefault:        cur.IsDefault,
	}
	if missing != nil {
		return nil, missing
	}
	if nf.IconURL.set {
		b.IconURL = nf.IconURL.v
	}
	if nf.Tags.set {
		b.Tags = nf.Tags.v
	}
	switch {
	case c.Active != nil:
		s := statusOf(*c.Active)
		b.Status = &s
	case nf.Status != nil:
		b.Status = nf.Status
	}
	if nf.IsDefault != nil {
		b.IsDefault = nf.IsDefault
	}
	return b, nil
}
