package tokenauth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/internal/tokenauth"
)

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestRenewalAndFailureHold(t *testing.T) {
	c := &clock{}
	var calls atomic.Int32
	var refuse atomic.Bool
	src, err := tokenauth.New(tokenauth.Config{Now: c.Now, MinInterval: time.Millisecond, FailureHold: 10 * time.Second,
		Fetch: func(ctx context.Context) (tokenauth.Token, error) {
			n := calls.Add(1)
			if !adapters.IsTokenRequest(ctx) {
				t.Error("the fetch context is not marked as a token request")
			}
			if refuse.Load() {
				return tokenauth.Token{}, &adapters.Error{Kind: adapters.KindUnauthorized, Message: "refused"}
			}
			return tokenauth.Token{Value: string(rune('a' + n)), ExpiresIn: 100 * time.Second}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, _ := src.Token(ctx)
	c.Advance(89 * time.Second) // before the margin (10 s)
	if again, _ := src.Token(ctx); again != tok || calls.Load() != 1 {
		t.Fatalf("renewed too early: %q, %d calls", again, calls.Load())
	}
	c.Advance(2 * time.Second) // inside the margin
	if again, _ := src.Token(ctx); again == tok || calls.Load() != 2 {
		t.Fatalf("not renewed inside the margin: %q, %d calls", again, calls.Load())
	}
	// A refused renewal is remembered for the hold, then tried again.
	refuse.Store(true)
	src.Invalidate(src.Secrets()[len(src.Secrets())-1])
	for range 3 {
		if _, err := src.Token(ctx); err == nil {
			t.Fatal("a refused token request gave a token")
		}
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3: the refusal is held", calls.Load())
	}
	refuse.Store(false)
	c.Advance(11 * time.Second)
	if _, err := src.Token(ctx); err != nil || calls.Load() != 4 {
		t.Errorf("after the hold: %v, %d calls", err, calls.Load())
	}
}

func TestTransientFailureNotHeld(t *testing.T) {
	var calls atomic.Int32
	src, _ := tokenauth.New(tokenauth.Config{MinInterval: time.Millisecond, Fetch: func(context.Context) (tokenauth.Token, error) {
		if calls.Add(1) == 1 {
			return tokenauth.Token{}, &adapters.Error{Kind: adapters.KindUnavailable, Message: "503"}
		}
		return tokenauth.Token{Value: "t"}, nil
	}})
	if _, err := src.Token(context.Background()); err == nil {
		t.Fatal("no error")
	}
	if tok, err := src.Token(context.Background()); err != nil || tok != "t" {
		t.Fatalf("a transient failure was held: %q %v", tok, err)
	}
}

func TestWaitingCallerGivesUpAlone(t *testing.T) {
	release := make(chan struct{})
	src, _ := tokenauth.New(tokenauth.Config{Fetch: func(context.Context) (tokenauth.Token, error) {
		<-release
		return tokenauth.Token{Value: "t"}, nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := src.Token(ctx); done <- err }()
	other := make(chan string, 1)
	go func() { tok, _ := src.Token(context.Background()); other <- tok }()
	cancel()
	err := <-done
	if ae, ok := adapters.AsError(err); !ok || !ae.Retryable() || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want a retryable error wrapping context.Canceled", err)
	}
	close(release)
	if tok := <-other; tok != "t" {
		t.Errorf("the other caller got %q: one caller's cancellation failed the shared request", tok)
	}
}

func TestStatic(t *testing.T) {
	src := tokenauth.Static("fixed")
	src.Invalidate("fixed")
	if tok, err := src.Token(context.Background()); tok != "fixed" || err != nil || src.Renewable() {
		t.Errorf("Static: %q %v renewable=%v", tok, err, src.Renewable())
	}
}
