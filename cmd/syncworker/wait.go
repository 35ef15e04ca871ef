package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
)

// Waiting for a server at start: a worker started before NATS or Redis is
// up (a node's first boot, a restart of the server beside it) waits for it,
// saying so every few seconds, instead of exiting into a crash loop whose
// back-off grows to minutes. An error that waiting cannot cure (refused
// credentials, a URL that does not parse) ends the start at once, and so
// does the end of ctx (SIGTERM).

// Bounds of the wait between two tries.
const (
	firstServerRetry = 200 * time.Millisecond
	maxServerRetry   = 5 * time.Second
)

// waitForServer calls try until it succeeds, ctx ends, or it fails with an
// error unreachable does not accept. what names the server in the log
// lines ("NATS at nats://…"); the caller says it in the error.
func waitForServer(ctx context.Context, logger *slog.Logger, what string, unreachable func(error) bool, try func(context.Context) error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = firstServerRetry, maxServerRetry, 0
	b.Reset()
	for {
		err := try(ctx)
		if err == nil {
			return nil
		}
		if !unreachable(err) || ctx.Err() != nil {
			return err
		}
		wait := b.NextBackOff()
		logger.Warn(what+" unreachable; waiting for it", "retryIn", wait, "error", err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (stopped waiting: %w)", err, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// natsUnreachable reports whether a connect error means no server answered
// (rather than one that refused us).
func natsUnreachable(err error) bool {
	return errors.Is(err, nats.ErrNoServers) || netUnreachable(err)
}

// netUnreachable reports a network failure: refused, reset, timed out.
func netUnreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, context.DeadlineExceeded)
}
