package reelevant

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/adapters/internal/tokenauth"
)

// The connection's auth keys: a fixed bearer token, or what the adapter
// needs to obtain access tokens itself (docs/CONTRACT.md §6).
const (
	// AuthBearerToken is a fixed access token, sent as Authorization:
	// Bearer <token>. It is never renewed.
	AuthBearerToken = "bearerToken"
	// AuthTokenURL is the token endpoint
	// (https://api.reelevant.com/v2/auth/token).
	AuthTokenURL = "tokenURL"
	// AuthClientID is the client_id sent with each token request.
	AuthClientID = "clientId"
	// AuthRefreshToken is the refresh token of grant refresh_token.
	AuthRefreshToken = "refreshToken"
	// AuthUsername and AuthPassword are the credentials of grant password.
	AuthUsername = "username"
	AuthPassword = "password"
)

var authKeys = []string{AuthBearerToken, AuthTokenURL, AuthClientID, AuthRefreshToken, AuthUsername, AuthPassword}

// The grant types of the token request.
const (
	grantRefreshToken = "refresh_token"
	grantPassword     = "password"
)

// tokenOptions are the tokenauth settings New passes on; tests shorten them.
var tokenOptions = tokenauth.Config{}

// credentials reads conn.Auth: a static Source for bearerToken, or a
// renewing one on a tokenClient. It names keys, never values.
func credentials(conn adapters.Connection) (*tokenauth.Source, *tokenClient, error) {
	for key := range conn.Auth {
		if !slices.Contains(authKeys, key) {
			return nil, nil, fmt.Errorf("reelevant: auth key %q is not used by reelevant (it takes %q, or %q and %q with %q or %q and %q)",
				key, AuthBearerToken, AuthTokenURL, AuthClientID, AuthRefreshToken, AuthUsername, AuthPassword)
		}
	}
	get := func(key string) (string, bool) {
		v, ok := conn.Auth[key]
		return v.Reveal(), ok
	}
	if token, ok := get(AuthBearerToken); ok {
		if len(conn.Auth) > 1 {
			return nil, nil, fmt.Errorf("reelevant: auth key %q is a fixed token; it cannot be combined with other keys", AuthBearerToken)
		}
		switch {
		case token == "":
			return nil, nil, fmt.Errorf("reelevant: auth key %q is empty", AuthBearerToken)
		case !validToken(token):
			return nil, nil, fmt.Errorf(`reelevant: auth key %q is not a bearer token: it must be the token alone (no "Bearer " prefix, no white space), `+
				"made of letters, digits and -._~+/ with trailing = (RFC 6750)", AuthBearerToken)
		}
		return tokenauth.Static(token), nil, nil
	}
	if len(conn.Auth) == 0 {
		return nil, nil, fmt.Errorf("reelevant: auth key %q is missing (or give %q and %q with %q, or with %q and %q, to obtain access tokens)",
			AuthBearerToken, AuthTokenURL, AuthClientID, AuthRefreshToken, AuthUsername, AuthPassword)
	}
	tc := &tokenClient{}
	for _, k := range []struct {
		key string
		dst *string
	}{{AuthTokenURL, &tc.tokenURL}, {AuthClientID, &tc.clientID}} {
		v, ok := get(k.key)
		if !ok || strings.TrimSpace(v) == "" {
			return nil, nil, fmt.Errorf("reelevant: auth key %q is missing or empty (needed to obtain access tokens)", k.key)
		}
		*k.dst = v
	}
	rt, hasRT := get(AuthRefreshToken)
	user, hasUser := get(AuthUsername)
	pass, hasPass := get(AuthPassword)
	switch {
	case hasRT && (hasUser || hasPass):
		return nil, nil, fmt.Errorf("reelevant: auth takes %q or %q and %q, not both", AuthRefreshToken, AuthUsername, AuthPassword)
	case hasRT && rt == "":
		return nil, nil, fmt.Errorf("reelevant: auth key %q is empty", AuthRefreshToken)
	case hasRT:
		tc.grant, tc.refreshToken, tc.secrets = grantRefreshToken, rt, []string{rt}
	case user == "" || pass == "":
		return nil, nil, fmt.Errorf("reelevant: auth needs %q, or %q and %q, to obtain access tokens", AuthRefreshToken, AuthUsername, AuthPassword)
	default:
		tc.grant, tc.username, tc.password, tc.secrets = grantPassword, user, pass, []string{pass}
	}
	client, err := httpx.New(httpx.Config{BaseURL: tc.tokenURL, HTTPClient: conn.HTTPClient, Secrets: tc.secrets})
	if err != nil {
		return nil, nil, fmt.Errorf("reelevant: auth key %q: %w", AuthTokenURL, err)
	}
	tc.client = client
	cfg := tokenOptions
	cfg.Fetch = tc.fetch
	src, err := tokenauth.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("reelevant: %w", err)
	}
	return src, tc, nil
}

// tokenClient makes Reelevant's token requests: POST {tokenURL} with JSON
// {grant_type, client_id, refresh_token} or {grant_type: password,
// client_id, username, password} (docs/CONTRACT.md §6, docs/providers/NOTES.md
// §1.4). A refresh token the answer rotates replaces the configured one
// for the life of the process.
type tokenClient struct {
	client             *httpx.Client
	tokenURL, clientID string
	grant              string
	username, password string

	mu           sync.Mutex
	refreshToken string
	secrets      []string // the password, or every refresh token seen
}

// Secrets returns the credentials a message must never show.
func (tc *tokenClient) Secrets() []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return slices.Clone(tc.secrets)
}

// tokenResponse is RFC 6749 §5.1's answer.
type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	RefreshToken string          `json:"refresh_token"`
}

func (tc *tokenClient) fetch(ctx context.Context) (tokenauth.Token, error) {
	body := map[string]string{"grant_type": tc.grant, "client_id": tc.clientID}
	tc.mu.Lock()
	if tc.grant == grantRefreshToken {
		body["refresh_token"] = tc.refreshToken
	} else {
		body["username"], body["password"] = tc.username, tc.password
	}
	tc.mu.Unlock()
	resp, err := tc.client.Do(ctx, httpx.Request{Method: http.MethodPost, JSON: body})
	if err != nil {
		return tokenauth.Token{}, tokenError(err)
	}
	secrets := tc.Secrets()
	var tr tokenResponse
	decodeErr := json.Unmarshal(bytes.TrimSpace(resp.Body), &tr)
	if tr.AccessToken != "" {
		secrets = append(secrets, tr.AccessToken)
	}
	if tr.RefreshToken != "" {
		secrets = append(secrets, tr.RefreshToken)
	}
	if !resp.OK() {
		return tokenauth.Token{}, tc.refused(resp, secrets)
	}
	fail := func(what string) (tokenauth.Token, error) {
		return tokenauth.Token{}, &adapters.Error{Kind: adapters.KindUnavailable, HTTPStatus: resp.Status,
			Message: fmt.Sprintf("obtaining an access token: %s: HTTP %d: unexpected response: %s", resp.Call, resp.Status, what)}
	}
	switch {
	case decodeErr != nil:
		return fail("the body is not an OAuth 2.0 token response")
	case tr.AccessToken == "":
		return fail("no access_token")
	case !validToken(tr.AccessToken):
		return fail("the access_token is not a bearer token (RFC 6750)")
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer"):
		return fail(fmt.Sprintf("token_type %q is not Bearer", truncate(tr.TokenType, 32)))
	}
	life, ok := seconds(tr.ExpiresIn)
	if !ok {
		return fail("expires_in is not a number of seconds")
	}
	if tr.RefreshToken != "" && tc.grant == grantRefreshToken {
		tc.mu.Lock()
		if tr.RefreshToken != tc.refreshToken {
			tc.refreshToken = tr.RefreshToken
			tc.secrets = append(tc.secrets, tr.RefreshToken)
		}
		tc.mu.Unlock()
	}
	return tokenauth.Token{Value: tr.AccessToken, ExpiresIn: life}, nil
}

// seconds reads expires_in: a positive number of seconds (a numeric
// string is tolerated); absent or null is 0 (the default lifetime).
func seconds(raw json.RawMessage) (time.Duration, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return 0, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1e9 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// tokenError names the token request in a transport failure.
func tokenError(err error) error {
	if ae, ok := adapters.AsError(err); ok {
		e := *ae
		e.Message = "obtaining an access token: " + e.Message
		return &e
	}
	return err
}

// refused classifies a token endpoint's non-2xx answer. Every 4xx but 408
// and 429 means the credentials were refused (invalid_client 400,
// invalid_grant, invalid_credentials 401, password_expired, a wrong
// tokenURL): KindUnauthorized, permanent, with the provider's reason.
// 429 (too_many_attempts) and 5xx are retryable.
func (tc *tokenClient) refused(resp *httpx.Response, secrets []string) error {
	e := httpx.StatusError(resp, tc.client.Scrub(tokenErrorText(resp.Body), secrets...))
	if e.Kind == adapters.KindRejected || e.Kind == adapters.KindNotFound {
		e.Kind = adapters.KindUnauthorized
	}
	e.Message = tc.client.Scrub("obtaining an access token: "+e.Message, secrets...)
	if e.Kind == adapters.KindUnauthorized {
		e.Message += " (the token endpoint refused the connection's credentials; check the connection's auth)"
	}
	return e
}

// tokenErrorText is the reason of a token error: RFC 6749 §5.2's error and
// error_description, and Reelevant's envelope message and error_code.
func tokenErrorText(b []byte) string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(b), &raw) != nil {
		return ""
	}
	str := func(k string) string {
		var s string
		if json.Unmarshal(raw[k], &s) != nil {
			if v, ok := raw[k]; ok && len(v) > 0 && string(v) != "null" {
				return string(v)
			}
		}
		return strings.TrimSpace(s)
	}
	var parts []string
	for _, k := range []string{"error", "error_code", "error_description", "message"} {
		if v := str(k); v != "" && !slices.Contains(parts, v) {
			parts = append(parts, truncate(v, 200))
		}
	}
	return strings.Join(parts, ": ")
}

// secretsOf returns every credential a message must never show: the
// tokens and, with a token client, its refresh tokens or password.
func secretsOf(src *tokenauth.Source, tc *tokenClient) []string {
	s := src.Secrets()
	if tc != nil {
		s = append(s, tc.Secrets()...)
	}
	return s
}
