package hybriddatapipeline

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/messages"
)

// Provider is the provider's name in config and results.
const Provider = "hybriddatapipeline"

// The connection's auth keys: HDP's management API takes HTTP Basic
// authentication with a login ID and password.
const (
	// AuthUsername is the key of the HDP login ID.
	AuthUsername = "username"
	// AuthPassword is the key of the HDP password.
	AuthPassword = "password"
)

// The provider-native fields (data.providerFields) the adapter accepts.
const (
	// FieldDataStore is the data store id of the OAuth application object,
	// a positive JSON integer ("dataStore": 54).
	FieldDataStore = "dataStore"
	// FieldTenantID is the id of the tenant the object belongs to, a
	// positive JSON integer ("tenantId": 623). Setting it moves the object
	// to that tenant.
	FieldTenantID = "tenantId"
)

// ResourcePattern is what an OAuth application id looks like: "the
// automatically generated OAuth application ID", a decimal integer (the Get
// page quotes it, "id": "93"; the list gives it unquoted). The pattern takes a
// positive decimal without leading zeros (one spelling per object), at most
// 18 digits so that it always fits an int64.
var ResourcePattern = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)

// NamePattern is the document's rule for "name": "The name can contain only
// alphanumeric characters and the underscore character." The document gives
// no length limit, so the adapter sets none.
var NamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// nativeCanonical maps the HDP names of the canonical fields to the
// canonical field a command must use instead. They are refused as provider
// fields: one value, one place.
var nativeCanonical = map[string]string{
	"name":         messages.FieldName,
	"description":  messages.FieldDescription,
	"clientId":     messages.FieldClientID,
	"clientSecret": messages.FieldClientSecret,
	"scope":        messages.FieldScopes,
	"authorizeURI": messages.FieldAuthorizeURL,
	"tokenURI":     messages.FieldTokenURL,
}

// appPath is the OAuth application object's path under the base URL.
func appPath(id string) []string { return []string{"api", "mgmt", "oauthapps", id} }

var _ adapters.Factory = New

// New builds the Hybrid Data Pipeline adapter for conn. conn.Auth must hold
// username and password, both non-blank; errors name the key, never the
// value.
func New(conn adapters.Connection) (adapters.Adapter, error) {
	for key := range conn.Auth {
		if key != AuthUsername && key != AuthPassword {
			return nil, fmt.Errorf("%s: auth key %q is not used by %s (it takes %q and %q)", Provider, key, Provider, AuthUsername, AuthPassword)
		}
	}
	creds := make(map[string]string, 2)
	for _, key := range []string{AuthUsername, AuthPassword} {
		v, ok := conn.Auth[key]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: auth key %q is missing", Provider, key)
		case strings.TrimSpace(v.Reveal()) == "":
			return nil, fmt.Errorf("%s: auth key %q is empty", Provider, key)
		case strings.IndexFunc(v.Reveal(), unicode.IsControl) >= 0:
			return nil, fmt.Errorf("%s: auth key %q holds a control character", Provider, key)
		}
		creds[key] = v.Reveal()
	}
	if strings.Contains(creds[AuthUsername], ":") {
		// RFC 7617 §2: the user-id of Basic authentication cannot hold a colon.
		return nil, fmt.Errorf("%s: auth key %q holds a colon, which HTTP Basic authentication cannot carry", Provider, AuthUsername)
	}
	token := base64.StdEncoding.EncodeToString([]byte(creds[AuthUsername] + ":" + creds[AuthPassword]))
	client, err := httpx.New(httpx.Config{
		BaseURL:    conn.BaseURL,
		HTTPClient: conn.HTTPClient,
		// The encoded header value too: a server echoing the header must
		// not leak the password in base64.
		Secrets: []string{creds[AuthUsername], creds[AuthPassword], token},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Provider, err)
	}
	return &adapter{client: client, authorization: "Basic " + token, now: time.Now}, nil
}

type adapter struct {
	client        *httpx.Client
	authorization string
	now           func() time.Time
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

// nativeFields are the provider fields of an update, decoded.
type nativeFields struct {
	dataStore, tenantID *int64
}

// validate checks u and returns its decoded provider fields.
func validate(u adapters.Update) (nativeFields, error) {
	var nf nativeFields
	if err := httpx.ValidateSegmentFunc("resource", u.Resource, validResourceID, ResourcePattern); err != nil {
		return nf, err
	}
	c := u.Changes
	for _, f := range c.Fields() {
		switch f {
		case messages.FieldName:
			if !NamePattern.MatchString(*c.Name) {
				return nf, adapters.Invalid(f, "must match %s: HDP's name can contain only alphanumeric characters and the underscore character", NamePattern)
			}
		case messages.FieldDescription:
			// Optional, free text.
		case messages.FieldClientID:
			if strings.TrimSpace(*c.ClientID) == "" {
				return nf, adapters.Invalid(f, "must not be empty: HDP requires clientId")
			}
		case messages.FieldClientSecret:
			if strings.TrimSpace(c.ClientSecret.Reveal()) == "" {
				return nf, adapters.Invalid(f, "must not be empty: HDP requires clientSecret")
			}
		case messages.FieldScopes:
			if err := checkScopes(*c.Scopes); err != nil {
				return nf, err
			}
		case messages.FieldAuthorizeURL, messages.FieldTokenURL:
			v := c.AuthorizeURL
			if f == messages.FieldTokenURL {
				v = c.TokenURL
			}
			if !validURL(*v) {
				return nf, adapters.Invalid(f, "must be an absolute http or https URL with a host (HDP takes a valid URL)")
			}
		default: // redirectUri, active: an HDP OAuth application object has no place for them
			return nf, adapters.Unsupported(Provider, f)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(u.ProviderFields)) {
		field := messages.ProviderFieldPrefix + name
		switch name {
		case FieldDataStore, FieldTenantID:
			n, reason := parseID(u.ProviderFields[name])
			if reason != "" {
				return nf, adapters.Invalid(field, "%s", reason)
			}
			if name == FieldDataStore {
				nf.dataStore = &n
			} else {
				nf.tenantID = &n
			}
		case "id":
			return nf, adapters.Invalid(field, "the OAuth application id is the command's resource, not a field")
		default:
			if canonical, ok := nativeCanonical[name]; ok {
				return nf, adapters.Invalid(field, "%q is HDP's name for the canonical field %q: set data.changes.%s instead", name, canonical, canonical)
			}
			return nf, adapters.Invalid(field, "unknown provider field %q: %s takes %q and %q (integers)", name, Provider, FieldDataStore, FieldTenantID)
		}
	}
	return nf, nil
}

// checkScopes checks that scopes join into HDP's "space-separated list of
// OAuth scopes": at least one (scope is required), none empty, none with
// whitespace.
func checkScopes(scopes []string) error {
	if len(scopes) == 0 {
		return adapters.Invalid(messages.FieldScopes, "must hold at least one scope: HDP requires scope")
	}
	for i, s := range scopes {
		if s == "" || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
			return adapters.Invalid(messages.FieldScopes, "scope %d is empty or holds whitespace: HDP takes a space-separated list", i)
		}
	}
	return nil
}

func validURL(s string) bool {
	if s == "" || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "" && u.Opaque == ""
}

// integerLiteral is a JSON number written as an integer: no fraction, no
// exponent.
var integerLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// parseID reads a provider field that holds an HDP id: a positive JSON
// integer. It returns why not (never quoting the value), or "".
func parseID(raw json.RawMessage) (int64, string) {
	v := strings.TrimSpace(string(raw))
	switch {
	case v == "null":
		return 0, "must be an integer id, not null"
	case strings.HasPrefix(v, `"`):
		return 0, "must be a JSON integer, not a string"
	case !integerLiteral.MatchString(v):
		return 0, "must be a JSON integer (no fraction, no exponent)"
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, "is out of range"
	}
	if n <= 0 {
		return 0, "must be a positive id"
	}
	return n, ""
}

// putBody is the update request: the whole object, in the document's key
// order. ClientSecret is a messages.Secret so that no formatting of the body
// can show it; it marshals to its value.
type putBody struct {
	Name         string          `json:"name"`
	DataStore    int64           `json:"dataStore"`
	TenantID     int64           `json:"tenantId"`
	Description  *string         `json:"description,omitempty"`
	ClientID     string          `json:"clientId"`
	ClientSecret messages.Secret `json:"clientSecret"`
	AuthorizeURI string          `json:"authorizeURI"`
	TokenURI     string          `json:"tokenURI"`
	Scope        string          `json:"scope"`
}

// Apply implements adapters.Adapter.
func (a *adapter) Apply(ctx context.Context, u adapters.Update) (adapters.Outcome, error) {
	st, err := a.read(ctx, u)
	if err != nil {
		return adapters.Outcome{}, err
	}
	if st.body == nil {
		return adapters.Outcome{Status: adapters.Unchanged, Requests: 1}, nil
	}
	resp, err := a.client.Do(ctx, httpx.Request{
		Method: http.MethodPut,
		Path:   appPath(u.Resource),
		Header: a.header(),
		JSON:   st.body,
	})
	if err != nil {
		return adapters.Outcome{}, err
	}
	if err := a.parseUpdate(resp, st.secrets...); err != nil {
		return adapters.Outcome{}, err
	}
	return adapters.Outcome{Status: adapters.Applied, Requests: 2}, nil
}

// state is an update checked against the current object: everything Apply
// knows before it writes, and all Plan reports.
type state struct {
	cur *oauthApp
	c   messages.Changes
	nf  nativeFields
	// body is the whole object to PUT; nil when the read already holds
	// every value the update sets (Apply writes nothing).
	body *putBody
	// secrets are scrubbed from every message beside the credentials: the
	// command's client secret and the read's.
	secrets []string
}

// read validates u, reads the object (one GET) and, unless it already holds
// every value u sets, overlays u on it. It is the path Apply and Plan share;
// a merge that cannot be written is its error.
func (a *adapter) read(ctx context.Context, u adapters.Update) (*state, error) {
	nf, err := validate(u)
	if err != nil {
		return nil, err
	}
	var secrets []string
	if u.Changes.ClientSecret != nil {
		secrets = append(secrets, u.Changes.ClientSecret.Reveal())
	}
	resp, err := a.client.Do(ctx, httpx.Request{Path: appPath(u.Resource), Header: a.header()})
	if err != nil {
		return nil, err
	}
	cur, err := a.parseRead(resp, u.Resource, secrets...)
	if err != nil {
		return nil, err
	}
	if cur.clientSecret != nil {
		secrets = append(secrets, *cur.clientSecret)
	}
	st := &state{cur: cur, c: u.Changes, nf: nf, secrets: secrets}
	if cur.holds(u.Changes, nf, u.Fields()) {
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

func (a *adapter) header() http.Header {
	return http.Header{"Authorization": {a.authorization}}
}

// holds reports whether the read already shows every value c and nf set;
// names are the update's fields (Update.Fields). A clientSecret the read
// does not show in clear never holds.
func (o *oauthApp) holds(c messages.Changes, nf nativeFields, names []string) bool {
	for _, f := range names {
		if !o.holdsField(f, c, nf) {
			return false
		}
	}
	return true
}

// holdsField reports whether the read already shows the value c or nf sets
// for field (a name as Update.Fields gives it); a field they do not set
// holds, a name it does not know never does (so that a field added to
// validate but not here is written, never skipped). An empty
// description holds an absent one; scopes hold a scope string that splits
// into them in order; a clientSecret holds only when the read shows it in
// clear and it is equal (compared in constant time).
func (o *oauthApp) holdsField(field string, c messages.Changes, nf nativeFields) bool {
	eq := func(cur *string, want *string) bool { return want == nil || (cur != nil && *cur == *want) }
	eqInt := func(cur, want *int64) bool { return want == nil || (cur != nil && *cur == *want) }
	switch field {
	case messages.FieldName:
		return eq(o.name, c.Name)
	case messages.FieldDescription:
		return c.Description == nil || (o.description == nil && *c.Description == "") || eq(o.description, c.Description)
	case messages.FieldClientID:
		return eq(o.clientID, c.ClientID)
	case messages.FieldClientSecret:
		return c.ClientSecret == nil || (o.secretKnown() &&
			subtle.ConstantTimeCompare([]byte(*o.clientSecret), []byte(c.ClientSecret.Reveal())) == 1)
	case messages.FieldScopes:
		return c.Scopes == nil || (o.scope != nil && slices.Equal(strings.Fields(*o.scope), *c.Scopes))
	case messages.FieldAuthorizeURL:
		return eq(o.authorizeURI, c.AuthorizeURL)
	case messages.FieldTokenURL:
		return eq(o.tokenURI, c.TokenURL)
	case messages.ProviderFieldPrefix + FieldDataStore:
		return eqInt(o.dataStore, nf.dataStore)
	case messages.ProviderFieldPrefix + FieldTenantID:
		return eqInt(o.tenantID, nf.tenantID)
	}
	return false
}

// merge overlays c and nf on the current object and returns the whole object
// to PUT. A field the PUT requires that the read did not return, and the
// update does not set, is a KindRejected error naming the field (in the
// command's terms) and saying why.
func merge(cur *oauthApp, c messages.Changes, nf nativeFields) (*putBody, *adapters.Error) {
	missing := func(field, native, why string) *adapters.Error {
		return &adapters.Error{Kind: adapters.KindRejected, Field: field, Message: fmt.Sprintf(
			"the read did not return %q%s and the command does not set %s; HDP's PUT replaces the whole OAuth application object and requires %q, so it cannot be written without it",
			native, why, field, native)}
	}
	str := func(set, read *string, field, native string) (string, *adapters.Error) {
		switch {
		case set != nil:
			return *set, nil
		case read != nil && *read != "":
			return *read, nil
		}
		return "", missing(field, native, " (or returned it empty)")
	}
	var b putBody
	var err *adapters.Error
	if b.Name, err = str(c.Name, cur.name, messages.FieldName, "name"); err != nil {
		return nil, err
	}
	if b.ClientID, err = str(c.ClientID, cur.clientID, messages.FieldClientID, "clientId"); err != nil {
		return nil, err
	}
	switch {
	case c.ClientSecret != nil:
		b.ClientSecret = *c.ClientSecret
	case cur.secretKnown():
		b.ClientSecret = messages.Secret(*cur.clientSecret)
	default:
		return nil, missing(messages.FieldClientSecret, "clientSecret", " in clear (it was absent, empty or masked)")
	}
	if b.AuthorizeURI, err = str(c.AuthorizeURL, cur.authorizeURI, messages.FieldAuthorizeURL, "authorizeURI"); err != nil {
		return nil, err
	}
	if b.TokenURI, err = str(c.TokenURL, cur.tokenURI, messages.FieldTokenURL, "tokenURI"); err != nil {
		return nil, err
	}
	if c.Scopes != nil {
		b.Scope = strings.Join(*c.Scopes, " ")
	} else if b.Scope, err = str(nil, cur.scope, messages.FieldScopes, "scope"); err != nil {
		return nil, err
	}
	switch {
	case nf.dataStore != nil:
		b.DataStore = *nf.dataStore
	case cur.dataStore != nil:
		b.DataStore = *cur.dataStore
	default:
		return nil, missing(messages.ProviderFieldPrefix+FieldDataStore, "dataStore", "")
	}
	// tenantId is optional in the PUT, but a PUT without it moves the object
	// to the tenant of the user the adapter authenticates as ("When a tenant
	// ID is not specified, the OAuth application is created for the tenant
	// to which the user belongs"). It is therefore always carried over from
	// the read, and an object whose read has no tenantId is not written
	// unless the command names the tenant.
	switch {
	case nf.tenantID != nil:
		b.TenantID = *nf.tenantID
	case cur.tenantID != nil:
		b.TenantID = *cur.tenantID
	default:
		return nil, &adapters.Error{Kind: adapters.KindRejected, Field: messages.ProviderFieldPrefix + FieldTenantID, Message: fmt.Sprintf(
			"the read did not return %q and the command does not set %s; a PUT without tenantId would move the OAuth application to the tenant of the user %s authenticates as, so the adapter does not write it",
			FieldTenantID, messages.ProviderFieldPrefix+FieldTenantID, Provider)}
	}
	// Optional: an absent description stays absent (the PUT clears what it
	// omits, and there is nothing to clear).
	switch {
	case c.Description != nil:
		b.Description = c.Description
	case cur.description != nil:
		b.Description = cur.description
	}
	return &b, nil
}
