package providers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/messages"
)

// DefaultReloadInterval is how often credential files are read again when
// Options.ReloadInterval is zero.
const DefaultReloadInterval = 5 * time.Second

// Options of Build. Zero values take the documented defaults.
type Options struct {
	// HTTPClient is the client the adapter calls its provider with (the
	// worker's instrumented one); nil means a default client.
	HTTPClient *http.Client
	// ReloadInterval is the least time between two reads of a
	// connection's credential files. Default DefaultReloadInterval.
	ReloadInterval time.Duration
	// Logger reports a changed credential file that cannot be used (the
	// adapter keeps the previous credentials). Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Build builds the adapter of the configured connection name. Credentials
// given as files (auth key <key>File, see config.FileSuffix) are read now,
// and read again at most every ReloadInterval while the adapter is used:
// when one changed, the adapter is rebuilt with the new values (so a
// rotated secret is picked up without a restart, and a renewing adapter
// starts over with it). secrets are the fixed credential values, for the
// worker's scrubber; the adapter Build returns also has a Secrets() []string
// method with those that change at run time (file contents, tokens).
func Build(reg *adapters.Registry, name string, c config.Connection, o Options) (a adapters.Adapter, secrets []string, err error) {
	static, files := c.SplitAuth()
	conn := adapters.Connection{Name: name, BaseURL: c.BaseURL, HTTPClient: o.HTTPClient}
	build := func(fromFiles map[string]string) (adapters.Adapter, error) {
		auth := make(map[string]messages.Secret, len(static)+len(fromFiles))
		for k, v := range static {
			auth[k] = messages.Secret(v)
		}
		for k, v := range fromFiles {
			auth[k] = messages.Secret(v)
		}
		cc := conn
		cc.Auth = auth
		return reg.New(c.Provider, cc)
	}
	for k, v := range static {
		if redact.SecretKey(k) { // never a URL or a user name: see config.Connection.Adapter
			secrets = append(secrets, v)
		}
	}
	if len(files) == 0 {
		a, err := build(nil)
		return a, secrets, err
	}
	vals, err := readFiles(files)
	if err != nil {
		return nil, nil, fmt.Errorf("connection %q: %w", name, err)
	}
	inner, err := build(vals)
	if err != nil {
		return nil, nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &reloading{name: name, files: files, build: build, interval: cmp.Or(o.ReloadInterval, DefaultReloadInterval),
		logger: o.Logger, now: o.Now, provider: inner.Provider(), cur: inner, vals: vals, checked: o.Now()}
	return r, secrets, nil
}

// readFiles reads each credential file: its content without trailing line
// breaks, which must not be empty. Errors name the key and the path, never
// the content.
func readFiles(files map[string]string) (map[string]string, error) {
	vals := make(map[string]string, len(files))
	for _, key := range slices.Sorted(maps.Keys(files)) {
		path := files[key]
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("auth.%s%s: reading %s: %w", key, config.FileSuffix, path, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("auth.%s%s: %s is empty", key, config.FileSuffix, path)
		}
		vals[key] = v
	}
	return vals, nil
}

// reloading is an adapter whose credentials come (partly) from files: it
// reads them again at most every interval, and rebuilds the adapter it
// delegates to when one changed. A changed file that cannot be read or
// built from keeps the previous adapter (and is logged, by key and path).
type reloading struct {
	name     string
	provider string
	files    map[string]string
	build    func(map[string]string) (adapters.Adapter, error)
	interval time.Duration
	logger   *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	cur     adapters.Adapter
	vals    map[string]string
	old     []string // the previous file values, still scrubbed
	checked time.Time
	lastErr string
}

// current returns the adapter to use, after reading the files again if
// interval has passed since the last read.
func (r *reloading) current() adapters.Adapter {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) < r.interval {
		return r.cur
	}
	r.checked = now
	vals, err := readFiles(r.files)
	if err == nil && maps.Equal(vals, r.vals) {
		r.lastErr = ""
		return r.cur
	}
	var next adapters.Adapter
	if err == nil {
		next, err = r.build(vals)
	}
	if err != nil {
		if msg := err.Error(); msg != r.lastErr {
			r.lastErr = msg
			r.logger.Warn("a credential file changed but cannot be used; keeping the previous credentials",
				"connection", r.name, "error", msg)
		}
		return r.cur
	}
	r.old = nil
	for k, v := range r.vals {
		if redact.SecretKey(k) {
			r.old = append(r.old, v)
		}
	}
	r.cur, r.vals, r.lastErr = next, vals, ""
	r.logger.Info("credential files changed; connection rebuilt with the new credentials", "connection", r.name)
	return r.cur
}

func (r *reloading) Provider() string { return r.provider }

func (r *reloading) Validate(u adapters.Update) error { return r.current().Validate(u) }

func (r *reloading) Apply(ctx context.Context, u adapters.Update) (adapters.Outcome, error) {
	return r.current().Apply(ctx, u)
}

// Plan implements adapters.Planner when the provider's adapter does.
func (r *reloading) Plan(ctx context.Context, u adapters.Update) (adapters.Plan, error) {
	p, ok := r.current().(adapters.Planner)
	if !ok {
		return adapters.Plan{}, &adapters.Error{Kind: adapters.KindRejected, Message: r.provider + " cannot plan"}
	}
	return p.Plan(ctx, u)
}

// Secrets returns the credential files' current and previous values and
// the adapter's own run-time secrets (tokens).
func (r *reloading) Secrets() []string {
	r.mu.Lock()
	var out []string
	for k, v := range r.vals {
		if redact.SecretKey(k) {
			out = append(out, v)
		}
	}
	out = append(out, r.old...)
	cur := r.cur
	r.mu.Unlock()
	if s, ok := cur.(interface{ Secrets() []string }); ok {
		out = append(out, s.Secrets()...)
	}
	return out
}
