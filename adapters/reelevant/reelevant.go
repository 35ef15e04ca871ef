package reelevant

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/adapters/internal/tokenauth"
	"github.com/oauthsync/oauthsync/messages"
)

// Provider is the provider's name in config and results.
const Provider = "reelevant"

// ResourcePattern is the spec's pattern for the OAuth client id (a MongoDB
// ObjectId). Updates are checked by validResourceID, which implements it.
var ResourcePattern = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

var _ adapters.Factory = New

// New builds the Reelevant adapter for conn. conn.Auth holds either
// bearerToken (a fixed access token alone, no "Bearer " prefix), or
// tokenURL and clientId with refreshToken or with username and password,
// from which the adapter obtains access tokens itself (see the package
// documentation). Errors name the key, never the value.
func New(conn adapters.Connection) (adapters.Adapter, error) {
	tokens, tc, err := credentials(conn)
	if err != nil {
		return nil, err
	}
	var static []string
	if !tokens.Renewable() {
		static = tokens.Secrets()
	}
	client, err := httpx.New(httpx.Config{
		BaseURL:    conn.BaseURL,
		HTTPClient: conn.HTTPClient,
		Secrets:    static,
	})
	if err != nil {
		return nil, fmt.Errorf("reelevant: %w", err)
	}
	return &adapter{client: client, tokens: tokens, tc: tc}, nil
}

type adapter struct {
	client *httpx.Client
	tokens *tokenauth.Source
	tc     *tokenClient // nil with a fixed bearerToken
}

// Secrets returns the credentials in use (access tokens, refresh tokens or
// password), which change at run time: the worker scrubs them from
// everything it emits.
func (a *adapter) Secrets() []string { return secretsOf(a.tokens, a.tc) }

func (a *adapter) Provider() string { return Provider }

// RequestsPerApply is what one Apply costs the connection's rate limit:
// one PATCH.
func (a *adapter) RequestsPerApply() int { return 1 }

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
	if err := httpx.ValidateSegmentFunc("resource", u.Resource, validResourceID, ResourcePattern); err != nil {
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
	resp, n, err := a.tokens.Call(ctx, func(ctx context.Context, token string) (*httpx.Response, error) {
		return a.client.Do(ctx, httpx.Request{
			Method: http.MethodPatch,
			Path:   []string{"v2", "datasources", "oauth", u.Resource},
			Header: http.Header{"Authorization": {"Bearer " + token}},
			JSON:   p.body,
		})
	})
	if err != nil {
		return adapters.Outcome{}, err
	}
	if err := a.parseResponse(resp, append(p.secrets, a.Secrets()...)...); err != nil {
		return adapters.Outcome{}, err
	}
	return adapters.Outcome{Status: adapters.Applied, Requests: n}, nil
}
