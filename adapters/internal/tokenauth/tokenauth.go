package tokenauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
)

// Defaults of Config.
const (
	// DefaultMinInterval is the least time between two token requests of
	// one Source when Config.MinInterval is zero (with a burst of
	// limiterBurst, so that a revoked token can be replaced at once).
	DefaultMinInterval = time.Second
	// DefaultFailureHold is how long a token request that failed for good
	// answers every call when Config.FailureHold is zero.
	DefaultFailureHold = 30 * time.Second
	// DefaultLifetime is a token's lifetime when the provider announces
	// none and Config.DefaultLifetime is zero.
	DefaultLifetime = time.Hour
	// MaxMargin caps how long before its expiry a token is renewed.
	MaxMargin = time.Minute
)

const (
	limiterBurst = 2
	// keptTokens is how many recent tokens Secrets returns.
	keptTokens = 4
)

// Token is what a Fetch obtained.
type Token struct {
	// Value is the credential sent with each call.
	Value string
	// ExpiresIn is the lifetime the provider announced, counted from when
	// the request was sent; zero means it announced none.
	ExpiresIn time.Duration
}

// Config configures a Source.
type Config struct {
	// Fetch obtains a new token: one request to the provider's token or
	// login endpoint. Its context is marked with adapters.WithTokenRequest.
	// It returns an *adapters.Error on failure: a permanent kind when the
	// provider refused the credentials (remembered for FailureHold), a
	// retryable kind otherwise. Its messages must not hold a secret.
	// Required.
	Fetch func(ctx context.Context) (Token, error)
	// MinInterval is the least time between token requests (burst 2).
	// Default DefaultMinInterval.
	MinInterval time.Duration
	// FailureHold is how long a permanent failure is returned without a
	// new request. Default DefaultFailureHold.
	FailureHold time.Duration
	// DefaultLifetime applies when a token comes without ExpiresIn.
	// Default DefaultLifetime.
	DefaultLifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Source hands out a valid token; see the package documentation. It is safe
// for concurrent use.
type Source struct {
	cfg     Config
	static  bool
	limiter *rate.Limiter
	group   singleflight.Group

	mu        sync.Mutex
	cur       string
	renewAt   time.Time
	failErr   error
	failUntil time.Time
	recent    []string
	requests  int
}

// New returns a Source that obtains tokens with cfg.Fetch.
func New(cfg Config) (*Source, error) {
	if cfg.Fetch == nil {
		return nil, errors.New("tokenauth: Fetch is required")
	}
	if cfg.MinInterval < 0 || cfg.FailureHold < 0 || cfg.DefaultLifetime < 0 {
		return nil, errors.New("tokenauth: durations must not be negative")
	}
	cfg.MinInterval = cmp.Or(cfg.MinInterval, DefaultMinInterval)
	cfg.FailureHold = cmp.Or(cfg.FailureHold, DefaultFailureHold)
	cfg.DefaultLifetime = cmp.Or(cfg.DefaultLifetime, DefaultLifetime)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Source{cfg: cfg, limiter: rate.NewLimiter(rate.Every(cfg.MinInterval), limiterBurst)}, nil
}

// Static returns a Source that always hands out value: a fixed credential
// that cannot be renewed (Renewable is false, Invalidate does nothing).
func Static(value string) *Source {
	return &Source{static: true, cur: value, recent: []string{value}}
}

// Renewable reports whether the Source can obtain a new token.
func (s *Source) Renewable() bool { return !s.static }

// Requests returns the number of token requests made so far.
func (s *Source) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Margin is how long before its expiry a token of lifetime d is renewed:
// a tenth of it, at most MaxMargin.
func Margin(d time.Duration) time.Duration { return min(d/10, MaxMargin) }

// cached returns the token to use now, or the remembered permanent
// failure; both empty when a request is needed. s.mu must be held.
func (s *Source) cached() (string, error) {
	if s.static {
		return s.cur, nil
	}
	now := s.cfg.Now()
	if s.cur != "" && now.Before(s.renewAt) {
		return s.cur, nil
	}
	if s.failErr != nil && now.Before(s.failUntil) {
		return "", s.failErr
	}
	return "", nil
}

// Token returns a valid token, obtaining one if none is cached. Callers
// that need one while a request is under way wait for it (bounded by ctx)
// and share its outcome.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	tok, err := s.cached()
	s.mu.Unlock()
	if tok != "" || err != nil {
		return tok, err
	}
	ch := s.group.DoChan("token", func() (any, error) { return s.fetch(context.WithoutCancel(ctx)) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		kind := adapters.KindUnavailable
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = adapters.KindTimeout
		}
		return "", &adapters.Error{Kind: kind, Err: ctx.Err(), Message: "waiting for an access token: " + ctx.Err().Error()}
	}
}

// fetch makes one token request (unless a flight that just ended left a
// token) and caches its outcome.
func (s *Source) fetch(ctx context.Context) (string, error) {
	s.mu.Lock()
	tok, err := s.cached()
	s.mu.Unlock()
	if tok != "" || err != nil {
		return tok, err
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return "", &adapters.Error{Kind: adapters.KindUnavailable, Err: err, Message: "token request rate limit: " + err.Error()}
	}
	start := s.cfg.Now()
	t, err := s.cfg.Fetch(adapters.WithTokenRequest(ctx))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if err != nil {
		if ae, ok := adapters.AsError(err); ok && !ae.Retryable() {
			s.failErr, s.failUntil = err, s.cfg.Now().Add(s.cfg.FailureHold)
		}
		return "", err
	}
	if t.Value == "" {
		return "", &adapters.Error{Kind: adapters.KindUnavailable, Message: "the token response holds no token"}
	}
	life := cmp.Or(t.ExpiresIn, s.cfg.DefaultLifetime)
	s.cur, s.renewAt, s.failErr = t.Value, start.Add(life-Margin(life)), nil
	s.recent = append(s.recent, t.Value)
	if len(s.recent) > keptTokens {
		s.recent = slices.Delete(s.recent, 0, len(s.recent)-keptTokens)
	}
	return t.Value, nil
}

// Invalidate drops token if it is the cached one (the provider refused
// it): the next Token obtains a new one. Calls with a token already
// replaced do nothing, so many calls refused with one token cause one
// request.
func (s *Source) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.static && s.cur == token {
		s.cur = ""
	}
}

// Secrets returns the recent tokens (the current one included), for
// scrubbing.
func (s *Source) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recent)
}

// Call runs call with a token. When the answer is 401 and the Source can
// renew, it drops that token, obtains another and runs call once more (a
// second 401 is returned as it is). It returns the last answer and how many
// times call ran.
func (s *Source) Call(ctx context.Context, call func(ctx context.Context, token string) (*httpx.Response, error)) (*httpx.Response, int, error) {
	tok, err := s.Token(ctx)
	if err != nil {
		return nil, 0, err
	}
	resp, err := call(ctx, tok)
	if err != nil || resp.Status != http.StatusUnauthorized || !s.Renewable() {
		return resp, 1, err
	}
	s.Invalidate(tok)
	tok, err = s.Token(ctx)
	if err != nil {
		return nil, 1, fmt.Errorf("renewing the access token after a 401: %w", err)
	}
	resp, err = call(ctx, tok)
	return resp, 2, err
}
