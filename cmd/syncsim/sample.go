package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/messages"
)

// sampleOptions configure publishSample.
type sampleOptions struct {
	// natsURL is the NATS server to publish to.
	natsURL string
	// subjects build the command subjects (prefix "sync" by default).
	subjects messages.Subjects
	// wait bounds the whole run: connecting, waiting for the commands
	// stream (the worker creates it at start) and publishing.
	wait time.Duration
	// retryEvery is the pause between attempts to connect or find the
	// stream. Default 1s.
	retryEvery time.Duration
	// tracerProvider gives one producer span per command, whose context is
	// sent in the command's traceparent header.
	tracerProvider trace.TracerProvider
	// onWait, if set, is called each time the stream is not there yet.
	onWait func()
}

// sampleLine is what publishSample reads of a batch line.
type sampleLine struct {
	ID, Connection, Resource string
	raw                      []byte
}

// publishSample publishes every line of an NDJSON batch of commands on its
// subject, with Content-Type and a producer span's traceparent. The first
// occurrence of an id carries Nats-Msg-Id; a repeated id is sent without
// it, so the worker's own dedup (not JetStream's window) answers it, as in
// `syncworker dev`. It waits for NATS and for a stream that takes the
// subjects, up to o.wait.
func publishSample(ctx context.Context, o sampleOptions, batch []byte, out io.Writer, logger *slog.Logger) error {
	lines, err := parseBatch(batch)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		return errors.New("the sample batch is empty")
	}
	retry := o.retryEvery
	if retry <= 0 {
		retry = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	pause := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
			return nil
		}
	}

	var nc *nats.Conn
	for {
		nc, err = nats.Connect(o.natsURL, nats.Name("syncsim-sample"), nats.Timeout(2*time.Second))
		if err == nil {
			break
		}
		logger.Info("NATS not reachable yet; retrying", "url", o.natsURL, "error", err)
		if perr := pause(); perr != nil {
			return fmt.Errorf("connect to NATS at %s within %s: %w", o.natsURL, o.wait, err)
		}
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	first := o.subjects.Command(lines[0].Connection, lines[0].Resource)
	for {
		_, err := js.StreamNameBySubject(ctx, first)
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			logger.Info("JetStream not answering yet; retrying", "error", err)
		} else {
			logger.Info("no stream takes the commands yet (the worker creates it at start); waiting", "subject", first)
		}
		if o.onWait != nil {
			o.onWait()
		}
		if perr := pause(); perr != nil {
			return fmt.Errorf("no stream took %s within %s: %w", first, o.wait, err)
		}
	}

	tracer := o.tracerProvider.Tracer("github.com/oauthsync/oauthsync/cmd/syncsim")
	seen := map[string]bool{}
	for n, l := range lines {
		withID := !seen[l.ID]
		seen[l.ID] = true
		if err := publishCommand(ctx, js, tracer, o.subjects.Command(l.Connection, l.Resource), l, withID); err != nil {
			return fmt.Errorf("publish sample line %d (%s): %w", n+1, l.ID, err)
		}
	}
	fmt.Fprintf(out, "published %d sample commands (%d distinct ids) to %s on %s\n", len(lines), len(seen), o.natsURL, o.subjects.Commands())
	return nil
}

// publishCommand publishes one command inside a producer span (OpenTelemetry
// messaging conventions) whose context travels in the headers.
func publishCommand(ctx context.Context, js jetstream.JetStream, tracer trace.Tracer, subject string, l sampleLine, withID bool) error {
	ctx, span := tracer.Start(ctx, "send "+subject, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "send"),
		attribute.String("messaging.operation.name", "publish"),
		attribute.String("messaging.destination.name", subject),
		attribute.String("messaging.message.id", l.ID),
		attribute.Int("messaging.message.body.size", len(l.raw)),
	))
	defer span.End()
	msg := nats.NewMsg(subject)
	msg.Header.Set("Content-Type", messages.ContentType)
	// NATS headers are case-sensitive: keep the W3C names as they are
	// (traceparent, not Traceparent).
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	for k, v := range carrier {
		msg.Header[k] = []string{v}
	}
	msg.Data = l.raw
	var opts []jetstream.PublishOpt
	if withID {
		opts = append(opts, jetstream.WithMsgID(l.ID))
	}
	ack, err := js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	span.SetAttributes(attribute.Int64("messaging.nats.stream.sequence", int64(ack.Sequence)), attribute.Bool("messaging.nats.duplicate", ack.Duplicate))
	return nil
}

// parseBatch reads the id, connection and resource of each non-blank line.
func parseBatch(batch []byte) ([]sampleLine, error) {
	var lines []sampleLine
	sc := bufio.NewScanner(bytes.NewReader(batch))
	sc.Buffer(make([]byte, 0, 64*1024), messages.DefaultMaxCommandBytes+1)
	for n := 1; sc.Scan(); n++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var l sampleLine
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("sample batch line %d: %w", n, err)
		}
		if l.ID == "" || l.Connection == "" || l.Resource == "" {
			return nil, fmt.Errorf("sample batch line %d: id, connection and resource are required", n)
		}
		l.raw = append([]byte(nil), raw...)
		lines = append(lines, l)
	}
	return lines, sc.Err()
}
