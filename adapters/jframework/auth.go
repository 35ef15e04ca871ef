package jframework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/adapters/internal/tokenauth"
)

// The connection's auth keys beside AuthBrandURL and AuthKey: the
// credentials of the login (POST {baseURL}/api/v1/users/auth), from which
// the adapter obtains Auth-Keys itself (docs/CONTRACT.md §6).
const (
	AuthUsername = "username"
	AuthPassword = "password"
)

// pathLogin is the login endpoint, under the base URL.
var pathLogin = []string{"api", "v1", "users", "auth"}

// DefaultKeyLifetime is an Auth-Key's lifetime when the login answers no
// expiresIn.
const DefaultKeyLifetime = 15 * time.Minute

// tokenOptions are the tokenauth settings New passes on; tests shorten them.
var tokenOptions = tokenauth.Config{DefaultLifetime: DefaultKeyLifetime}

// credentials reads conn.Auth: the brand URL, and a static Source for
// authKey or a renewing one that logs in with username and password.
func credentials(conn adapters.Connection) (brandURL string, src *tokenauth.Source, lc *loginClient, err error) {
	keys := []string{AuthBrandURL, AuthKey, AuthUsername, AuthPassword}
	for key := range conn.Auth {
		if !slices.Contains(keys, key) {
			return "", nil, nil, fmt.Errorf("jframework: auth key %q is not used by jframework (it takes %q with %q, or with %q and %q)",
				key, AuthBrandURL, AuthKey, AuthUsername, AuthPassword)
		}
	}
	value := func(key string) (string, error) {
		v, ok := conn.Auth[key]
		switch {
		case !ok:
			return "", fmt.Errorf("jframework: auth key %q is missing", key)
		case strings.TrimSpace(v.Reveal()) == "":
			return "", fmt.Errorf("jframework: auth key %q is empty", key)
		case !validHeaderValue(v.Reveal()):
			return "", fmt.Errorf("jframework: auth key %q holds a character not allowed in an HTTP header", key)
		}
		return v.Reveal(), nil
	}
	if brandURL, err = value(AuthBrandURL); err != nil {
		return "", nil, nil, err
	}
	_, hasUser := conn.Auth[AuthUsername]
	_, hasPass := conn.Auth[AuthPassword]
	if _, hasKey := conn.Auth[AuthKey]; hasKey || (!hasUser && !hasPass) {
		if hasUser || hasPass {
			return "", nil, nil, fmt.Errorf("jframework: auth takes %q or %q and %q, not both", AuthKey, AuthUsername, AuthPassword)
		}
		key, err := value(AuthKey)
		if err != nil {
			return "", nil, nil, err
		}
		return brandURL, tokenauth.Static(key), nil, nil
	}
	lc = &loginClient{brandURL: brandURL}
	if lc.username, err = value(AuthUsername); err != nil {
		return "", nil, nil, err
	}
	if lc.password, err = value(AuthPassword); err != nil {
		return "", nil, nil, err
	}
	lc.secrets = []string{lc.password}
	cfg := tokenOptions
	cfg.Fetch = lc.fetch
	if src, err = tokenauth.New(cfg); err != nil {
		return "", nil, nil, fmt.Errorf("jframework: %w", err)
	}
	return brandURL, src, lc, nil
}

// loginClient logs in: POST {baseURL}/api/v1/users/auth with header
// Brand-URL and JSON {username, password}, answered by
// {success, data: {authKey, refreshAuthKey, expiresIn}} (docs/providers/NOTES.md
// §4.4; the SDK's refresh-auth-key is not implemented, so a new key is a
// new login).
type loginClient struct {
	a                  *adapter
	brandURL           string
	username, password string

	mu      sync.Mutex
	secrets []string // the password and the refreshAuthKeys seen
}

// Secrets returns the credentials a message must never show.
func (lc *loginClient) Secrets() []string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return slices.Clone(lc.secrets)
}

type loginData struct {
	AuthKey        string          `json:"authKey"`
	RefreshAuthKey string          `json:"refreshAuthKey"`
	ExpiresIn      json.RawMessage `json:"expiresIn"`
}

func (lc *loginClient) fetch(ctx context.Context) (tokenauth.Token, error) {
	a := lc.a
	h := make(http.Header, 4)
	h.Set("Brand-URL", lc.brandURL)
	resp, err := a.client.Do(ctx, httpx.Request{Method: http.MethodPost, Path: pathLogin, Header: h,
		JSON: map[string]string{"username": lc.username, "password": lc.password}})
	if err != nil {
		if ae, ok := adapters.AsError(err); ok {
			e := *ae
			e.Message = "logging in: " + e.Message
			return tokenauth.Token{}, &e
		}
		return tokenauth.Token{}, err
	}
	env := decodeEnvelope(resp.Body)
	var d loginData
	_ = decodeObject(env.data, &d)
	secrets := lc.Secrets()
	secrets = append(secrets, d.AuthKey, d.RefreshAuthKey)
	if !resp.OK() || resp.Status == StatusUsageLimit || env.success == nil || !*env.success {
		var e *adapters.Error
		if !resp.OK() || resp.Status == StatusUsageLimit {
			e = a.failure(resp, env, secrets)
		} else {
			e = a.unsuccessful(resp, env, secrets)
		}
		if !e.Retryable() {
			e.Kind = adapters.KindUnauthorized
			e.Message += " (the login refused the connection's credentials; check the connection's auth)"
		}
		e.Message = a.scrubber(secrets)("logging in: " + e.Message)
		return tokenauth.Token{}, e
	}
	if d.AuthKey == "" || !validHeaderValue(d.AuthKey) {
		return tokenauth.Token{}, unexpected(resp, "the login answered no usable authKey")
	}
	var life time.Duration
	var secs float64
	if len(d.ExpiresIn) > 0 && string(d.ExpiresIn) != "null" {
		if json.Unmarshal(d.ExpiresIn, &secs) != nil || secs <= 0 || secs > 1e9 {
			return tokenauth.Token{}, unexpected(resp, "expiresIn is not a positive number of seconds")
		}
		life = time.Duration(secs * float64(time.Second))
	}
	if d.RefreshAuthKey != "" {
		lc.mu.Lock()
		if !slices.Contains(lc.secrets, d.RefreshAuthKey) {
			lc.secrets = append(lc.secrets, d.RefreshAuthKey)
			if len(lc.secrets) > 5 { // the password and the last refresh keys
				lc.secrets = slices.Delete(lc.secrets, 1, len(lc.secrets)-4)
			}
		}
		lc.mu.Unlock()
	}
	return tokenauth.Token{Value: d.AuthKey, ExpiresIn: life}, nil
}
