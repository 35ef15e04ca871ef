package reelevant

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/messages"
)

// Provider is the provider's name in config and results.
const Provider = "reelevant"

// AuthBearerToken is the connection's one auth key: the access token sent
// as Authorization: Bearer <token>.
const AuthBearerToken = "bearerToken"

// ResourcePattern is the spec's pattern for the OAuth client id (a MongoDB
// ObjectId).
var ResourcePattern = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

// tokenPattern is RFC 6750's b64token, the syntax of a bearer token.
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

var _ adapters.Factory = New

// New builds the Reelevant adapter for conn. conn.Auth must hold
// bearerToken, a bearer token alone (no "Bearer " prefix); errors name the
// key, never the value.
func New(conn adapters.Connection) (adapters.Adapter, error) {
	for key := range conn.Auth {
		if key != AuthBearerToken {
			return nil, fmt.Errorf("reelevant: auth key %q is not used by reelevant (it takes %q)", key, AuthBearerToken)
		}
	}
	v, ok := conn.Auth[AuthBearerToken]
	token := v.Reveal()
	switch {
	case !ok:
		return nil, fmt.Errorf("reelevant: auth key %q is missing", AuthBearerToken)
	case token == "":
		return nil, fmt.Errorf("reelevant: auth key %q is empty", AuthBearerToken)
	case !tokenPattern.MatchString(token):
		return nil, fmt.Errorf(`reelevant: auth key %q is not a bearer token: it must be the token alone (no "Bearer " prefix, no white space), `+
			"made of letters, digits and -._~+/ with trailing = (RFC 6750)", AuthBearerToken)
	}
	client, err := httpx.New(httpx.Config{
		BaseURL:    conn.BaseURL,
		HTTPClient: conn.HTTPClient,
		Secrets:    []string{token},
	})
	if err != nil {
		return nil, fmt.Errorf("reelevant: %w", err)
	}
	return &adapter{client: client, authorization: "Bearer " + token}, nil
}

type adapter struct {
	client        *httpx.Client
	authorization string
}

func (a *adapter) Provider() string { return Provider }

// Validate implements adapters.Adapter.
func (a *adapter) Validate(u adapters.Update) error {
	if _, err := prepare(u); err != nil {
		return err
	}
	return nil
}

// patch is a validated update: the body to send and the secrets it holds.
type patch struct {
	body    map[string]any
	secrets []string
	// secret names the body's keys whose value is or holds a secret
	// (clientSecret, a configuration with a clientSecret).
	secret map[string]bool
}

// prepare validates u and builds the PATCH body from it: exactly the fields
// present, canonical fields under their native names.
func prepare(u adapters.Update) (*patch, error) {
	if err := httpx.ValidateSegment("resource", u.Resource, ResourcePattern); err != nil {
		return nil, err
	}
	c := u.Changes
	p := &patch{body: make(map[string]any, len(c.Fields())+len(u.ProviderFields)), secret: map[string]bool{}}
	for _, f := range c.Fields() {
		switch f {
		case messages.FieldClientID:
			p.body[f] = *c.ClientID
		case messages.FieldClientSecret:
			p.body[f] = c.ClientSecret.Reveal()
			p.secrets = append(p.secrets, c.ClientSecret.Reveal())
			p.secret[f] = true
		case messages.FieldScopes:
			p.body[f] = nonNil(*c.Scopes)
		case messages.FieldAuthorizeURL:
			if err := checkURL(f, *c.AuthorizeURL); err != nil {
				return nil, err
			}
			p.body[f] = *c.AuthorizeURL
		case messages.FieldTokenURL:
			if err := checkURL(f, *c.TokenURL); err != nil {
				return nil, err
			}
			p.body[f] = *c.TokenURL
		default: // name, description, redirectUri, active
			return nil, adapters.Unsupported(Provider, f)
		}
	}
	for _, name := range sortedKeys(u.ProviderFields) {
		v, err := validateProviderField(name, u.ProviderFields[name])
		if err != nil {
			return nil, err
		}
		p.body[name] = v
		if name == "configuration" {
			if s, ok := v.(map[string]any)["clientSecret"].(string); ok {
				p.secrets = append(p.secrets, s)
				p.secret[name] = true
			}
		}
	}
	if len(p.body) == 0 {
		return nil, &adapters.Error{Kind: adapters.KindInvalid, Message: "the update has no field to write"}
	}
	return p, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Apply implements adapters.Adapter: one PATCH with the fields present, no
// read. It is Applied with one request, or an error; never Unchanged.
func (a *adapter) Apply(ctx context.Context, u adapters.Update) (adapters.Outcome, error) {
	p, err := prepare(u)
	if err != nil {
		return adapters.Outcome{}, err
	}
	resp, err := a.client.Do(ctx, httpx.Request{
		Method: http.MethodPatch,
		Path:   []string{"v2", "datasources", "oauth", u.Resource},
		Header: http.Header{"Authorization": {a.authorization}},
		JSON:   p.body,
	})
	if err != nil {
		return adapters.Outcome{}, err
	}
	if err := a.parseResponse(resp, p.secrets...); err != nil {
		return adapters.Outcome{}, err
	}
	return adapters.Outcome{Status: adapters.Applied, Requests: 1}, nil
}
