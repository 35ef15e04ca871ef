package rocketchat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/messages"
)

// Provider is the provider's name in config and results.
const Provider = "rocketchat"

// The connection's auth keys.
const (
	// AuthUserID is the key of the user id sent as X-User-Id.
	AuthUserID = "userId"
	// AuthToken is the key of the auth token (or personal access token)
	// sent as X-Auth-Token.
	AuthToken = "authToken"
)

// ResourcePattern is what a Rocket.Chat OAuth app id looks like. Apps created
// through the API get a Meteor id (17 characters of [23456789A-Za-z] minus
// look-alikes); documents inserted by MongoDB drivers get an ObjectId (24 hex
// digits, like the document's example 65a7d77142a7e12453052d59). The pattern
// takes both and nothing that could be anything but a plain id.
var ResourcePattern = regexp.MustCompile(`^[A-Za-z0-9]{17,24}$`)

// The endpoints, as path segments under the base URL.
var (
	pathGet    = []string{"api", "v1", "oauth-apps.get"}
	pathUpdate = []string{"api", "v1", "oauth-apps.update"}
)

var _ adapters.Factory = New

// New builds the Rocket.Chat adapter for conn. conn.Auth must hold userId and
// authToken, both non-blank; errors name the key, never the value.
func New(conn adapters.Connection) (adapters.Adapter, error) {
	for key := range conn.Auth {
		if key != AuthUserID && key != AuthToken {
			return nil, fmt.Errorf("rocketchat: auth key %q is not used by rocketchat (it takes %q and %q)", key, AuthUserID, AuthToken)
		}
	}
	creds := make(map[string]string, 2)
	for _, key := range []string{AuthUserID, AuthToken} {
		v, ok := conn.Auth[key]
		switch {
		case !ok:
			return nil, fmt.Errorf("rocketchat: auth key %q is missing", key)
		case strings.TrimSpace(v.Reveal()) == "":
			return nil, fmt.Errorf("rocketchat: auth key %q is empty", key)
		case !validHeaderValue(v.Reveal()):
			return nil, fmt.Errorf("rocketchat: auth key %q holds a character not allowed in an HTTP header", key)
		}
		creds[key] = v.Reveal()
	}
	client, err := httpx.New(httpx.Config{
		BaseURL:    conn.BaseURL,
		HTTPClient: conn.HTTPClient,
		Secrets:    []string{creds[AuthUserID], creds[AuthToken]},
	})
	if err != nil {
		return nil, fmt.Errorf("rocketchat: %w", err)
	}
	return &adapter{client: client, userID: creds[AuthUserID], token: creds[AuthToken], now: time.Now}, nil
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
	client        *httpx.Client
	userID, token string
	now           func() time.Time
}

func (a *adapter) Provider() string { return Provider }

// RequestsPerApply is what one Apply costs the connection's rate limit:
// a read, then a write (none when the values are already in place).
func (a *adapter) RequestsPerApply() int { return 2 }

// Validate implements adapters.Adapter.
func (a *adapter) Validate(u adapters.Update) error { return validate(u) }

func validate(u adapters.Update) error {
	if err := httpx.ValidateSegmentFunc("resource", u.Resource, validResourceID, ResourcePattern); err != nil {
		return err
	}
	c := u.Changes
	for _, f := range c.Fields() {
		switch f {
		case messages.FieldName:
			if strings.TrimSpace(*c.Name) == "" {
				return adapters.Invalid(f, "must not be blank (Rocket.Chat refuses it: error-invalid-name)")
			}
		case messages.FieldRedirectURI:
			if len(parseURIList(*c.RedirectURI)) == 0 {
				return adapters.Invalid(f, `must hold at least one URI (a list split on "," or newlines; Rocket.Chat refuses an empty one: error-invalid-redirectUri)`)
			}
		case messages.FieldActive:
		case messages.FieldClientID, messages.FieldClientSecret:
			return &adapters.Error{Kind: adapters.KindUnsupported, Field: f, Message: fmt.Sprintf(
				"%s has no place for %q: Rocket.Chat generates the client id and secret and its REST API cannot change them; the field is refused, not dropped",
				Provider, f)}
		default:
			return adapters.Unsupported(Provider, f)
		}
	}
	if len(u.ProviderFields) > 0 {
		names := make([]string, 0, len(u.ProviderFields))
		for n := range u.ProviderFields {
			names = append(names, n)
		}
		slices.Sort(names)
		return adapters.Invalid(messages.ProviderFieldPrefix+names[0],
			"unknown provider field %q: Rocket.Chat has no provider-native fields (name, redirectUri and active are canonical changes)", names[0])
	}
	return nil
}

// parseURIList parses a redirectUri value like Rocket.Chat's parseUriList:
// split on "," or "\n", trim, drop empties.
func parseURIList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// normalizeURIs is the form Rocket.Chat stores a redirectUri value in.
func normalizeURIs(s string) string { return strings.Join(parseURIList(s), ",") }

// updateBody is the update request: exactly these four keys.
type updateBody struct {
	AppID       string `json:"appId"`
	Name        string `json:"name"`
	Active      bool   `json:"active"`
	RedirectURI string `json:"redirectUri"`
}

// Apply implements adapters.Adapter.
func (a *adapter) Apply(ctx context.Context, u adapters.Update) (adapters.Outcome, error) {
	st, err := a.read(ctx, u)
	if err != nil {
		return adapters.Outcome{}, err
	}
	if st.unchanged() {
		return adapters.Outcome{Status: adapters.Unchanged, Requests: 1}, nil
	}
	want := st.want
	want.AppID = u.Resource

	resp, err := a.client.Do(ctx, httpx.Request{
		Method: http.MethodPost,
		Path:   pathUpdate,
		Header: a.header(),
		JSON:   want,
	})
	if err != nil {
		return adapters.Outcome{}, err
	}
	if err := a.parseUpdate(resp, st.cur.ClientSecret); err != nil {
		return adapters.Outcome{}, err
	}
	return adapters.Outcome{Status: adapters.Applied, Requests: 2}, nil
}

// state is an update overlaid on the app's current state: everything Apply
// knows before it decides whether to write, and all Plan reports.
type state struct {
	cur  *oauthApp
	want updateBody // the update body, AppID aside
}

// read validates u, reads the app (one GET) and overlays u on it. It is the
// path Apply and Plan share.
func (a *adapter) read(ctx context.Context, u adapters.Update) (*state, error) {
	if err := validate(u); err != nil {
		return nil, err
	}
	resp, err := a.client.Do(ctx, httpx.Request{
		Path:   pathGet,
		Query:  url.Values{"_id": {u.Resource}},
		Header: a.header(),
	})
	if err != nil {
		return nil, err
	}
	cur, err := a.parseRead(resp, u.Resource)
	if err != nil {
		return nil, err
	}
	want, merr := merge(cur, u.Changes)
	if merr != nil {
		merr.HTTPStatus = resp.Status
		return nil, merr
	}
	return &state{cur: cur, want: want}, nil
}

// holds reports whether the app already holds the update body's value of
// field (name, active or redirectUri). redirectUri lists are compared in
// the form Rocket.Chat stores them (normalizeURIs): "a, b" holds "a,b".
func (s *state) holds(field string) bool {
	switch field {
	case messages.FieldName:
		return s.cur.Name != nil && *s.cur.Name == s.want.Name
	case messages.FieldActive:
		return s.cur.Active != nil && *s.cur.Active == s.want.Active
	case messages.FieldRedirectURI:
		return s.cur.RedirectURI != nil && normalizeURIs(*s.cur.RedirectURI) == normalizeURIs(s.want.RedirectURI)
	}
	return false
}

// unchanged reports whether the app already holds the whole update body:
// Apply then writes nothing.
func (s *state) unchanged() bool {
	return s.holds(messages.FieldName) && s.holds(messages.FieldActive) && s.holds(messages.FieldRedirectURI)
}

func (a *adapter) header() http.Header {
	return http.Header{"X-User-Id": {a.userID}, "X-Auth-Token": {a.token}}
}

// merge overlays c on the current app. A field the read did not return and
// c does not set is an error: the update replaces all three.
func merge(cur *oauthApp, c messages.Changes) (updateBody, *adapters.Error) {
	var b updateBody
	missing := func(f string) *adapters.Error {
		return &adapters.Error{Kind: adapters.KindRejected, Field: f, Message: fmt.Sprintf(
			"the read did not return %q and the command does not set it; Rocket.Chat's update replaces name, active and redirectUri together", f)}
	}
	switch {
	case c.Name != nil:
		b.Name = *c.Name
	case cur.Name != nil:
		b.Name = *cur.Name
	default:
		return b, missing(messages.FieldName)
	}
	switch {
	case c.Active != nil:
		b.Active = *c.Active
	case cur.Active != nil:
		b.Active = *cur.Active
	default:
		return b, missing(messages.FieldActive)
	}
	switch {
	case c.RedirectURI != nil:
		b.RedirectURI = normalizeURIs(*c.RedirectURI)
	case cur.RedirectURI != nil:
		b.RedirectURI = *cur.RedirectURI
	default:
		return b, missing(messages.FieldRedirectURI)
	}
	return b, nil
}
