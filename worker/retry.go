package worker

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/oauthsync/oauthsync/adapters"
)

// budgetBackOff is exponential backoff with jitter that honours the wait a
// provider asked for and stops when the next wait would overrun the budget.
// It is used by one retry loop at a time.
type budgetBackOff struct {
	exp     *backoff.ExponentialBackOff
	budget  time.Duration
	maxWait time.Duration
	started time.Time
	now     func() time.Time

	// hint is the provider's wait signal from the last failure.
	hint time.Duration
	// wanted is the wait that did not fit in the budget: the redelivery
	// delay should be at least this.
	wanted time.Duration
}

func newBudgetBackOff(cfg Config) *budgetBackOff {
	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(cfg.InitialBackoff),
		backoff.WithMaxInterval(cfg.MaxBackoff),
		backoff.WithMaxElapsedTime(0), // the budget is ours, see NextBackOff
	)
	return &budgetBackOff{exp: exp, budget: cfg.RetryBudget, maxWait: cfg.MaxProviderWait, now: cfg.now}
}

func (b *budgetBackOff) Reset() {
	b.exp.Reset()
	b.started = b.now()
	b.hint, b.wanted = 0, 0
}

func (b *budgetBackOff) NextBackOff() time.Duration {
	next := b.exp.NextBackOff()
	if b.hint > next {
		next = min(b.hint, b.maxWait)
	}
	b.hint = 0
	if b.now().Sub(b.started)+next > b.budget {
		b.wanted = next
		return backoff.Stop
	}
	return next
}

// attemptResult is what the retry loop ends with.
type attemptResult struct {
	outcome  adapters.Outcome
	err      *adapters.Error // nil on success
	attempts int
	// retryAfter is the wait that did not fit in the budget (0 if none).
	retryAfter time.Duration
	// interrupted is set when the worker began stopping between attempts.
	interrupted bool
	// mayHaveWritten is set when a failed attempt's write may have landed
	// (adapters.Error.MayHaveWritten).
	mayHaveWritten bool
	// parked is set when flow control did not admit an attempt: the loop
	// stopped there, without counting it (see Worker.admitAttempt); err
	// is then the transient failure before it, if any.
	parked *parkedError
}

// applyWithRetry calls apply until it succeeds, fails permanently, or the
// budget is spent. work bounds each attempt (cancelled on hard stop or lease
// loss); stopping interrupts the waits between attempts (soft stop).
func applyWithRetry(work, stopping context.Context, cfg Config, apply func(ctx context.Context, attempt int) (adapters.Outcome, error), notify func(err *adapters.Error, wait time.Duration)) attemptResult {
	var (
		res  attemptResult
		last *adapters.Error
	)
	b := newBudgetBackOff(cfg)
	op := func() (adapters.Outcome, error) {
		res.attempts++
		out, err := apply(work, res.attempts)
		if err == nil {
			return out, nil
		}
		if pe, ok := err.(*parkedError); ok {
			res.attempts--
			res.parked = pe
			return out, backoff.Permanent(err)
		}
		last = classify(work, err)
		res.mayHaveWritten = res.mayHaveWritten || last.MayHaveWritten
		if !last.Retryable() || work.Err() != nil {
			return out, backoff.Permanent(last)
		}
		b.hint = last.RetryAfter
		return out, last
	}
	out, err := backoff.RetryNotifyWithData(op, backoff.WithContext(b, stopping), func(err error, wait time.Duration) {
		if notify != nil && last != nil {
			notify(last, wait)
		}
	})
	if err == nil {
		res.outcome = out
		return res
	}
	if res.parked != nil {
		res.err = last // the last transient failure before it, if any
		return res
	}
	res.err = last
	if res.err == nil {
		res.err = classify(work, err)
	}
	res.retryAfter = b.wanted
	res.interrupted = res.err.Retryable() && stopping.Err() != nil
	return res
}

// classify turns any error into an *adapters.Error. Adapters return
// *adapters.Error already; anything else is treated as transient.
func classify(ctx context.Context, err error) *adapters.Error {
	if ae, ok := adapters.AsError(err); ok {
		return ae
	}
	if ctx.Err() != nil {
		return &adapters.Error{Kind: adapters.KindUnavailable, Message: "work cancelled: " + ctx.Err().Error(), Err: err}
	}
	return &adapters.Error{Kind: adapters.KindUnavailable, Message: "unclassified adapter failure", Err: err}
}
