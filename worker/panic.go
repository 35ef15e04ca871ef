package worker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"

	"github.com/oauthsync/oauthsync/messages"
)

// recoverPanic, deferred by handle, turns a panic anywhere in the handling
// of one command (decoder, adapter, worker) into that command's end: a
// dead letter with code internal_error, a failed result when its ids are
// known, a term, a count on oauthsync.panics and one error log line. The
// worker goes on with the next message; no message can crash the fleet.
//
// The log line names the panic value's type, a scrubbed and shortened
// message, and the stack without argument values: the value may hold
// command data (a secret), which must not reach the logs verbatim.
func (w *Worker) recoverPanic(ctx context.Context, j *job) {
	r := recover()
	if r == nil {
		return
	}
	w.inst.panics.Add(ctx, 1, j.metrics.conn)
	j.span.SetStatus(codes.Error, "panic")
	j.span.AddEvent("panic")
	kind := fmt.Sprintf("%T", r)
	w.cfg.Logger.Error("panic while handling a command; it is dead-lettered and the worker goes on",
		w.logAttrs(j, slog.String("panicType", kind), slog.String("panic", w.panicMessage(j, r)),
			slog.String("stack", stackWithoutArguments(debug.Stack())))...)
	if j.settled || j.handedOff {
		return // it panicked after the delivery was settled (or handed to the completer): nothing to end
	}
	defer func() {
		// Ending the command panicked too: terminate it all the same.
		if r := recover(); r != nil {
			w.cfg.Logger.Error("panic while dead-lettering a command that panicked; terminated without a dead letter",
				w.logAttrs(j, slog.String("panicType", fmt.Sprintf("%T", r)))...)
			if !j.settled {
				w.term(j)
			}
		}
	}()
	j.held.unclaim()
	reason := "the worker failed on this command (panic: " + kind + "); it is dead-lettered and not retried"
	if j.id == "" {
		w.deadLetterUnaddressable(ctx, j, messages.CodeInternalError, reason)
		return
	}
	w.failWith(ctx, j, &messages.ResultError{Code: messages.CodeInternalError, Message: reason})
}

// recoverUnstarted, deferred first by handle, recovers a panic before the
// command's job exists (reading the delivery's metadata, the catch-all's
// routing), or one raised by recoverPanic itself before it could end the
// command: the message is terminated (nothing is known to address a result
// or dead letter to), counted and logged with the panic's type and the
// stack without argument values.
func (w *Worker) recoverUnstarted(l *consumeLoop, msg jetstream.Msg) {
	r := recover()
	if r == nil {
		return
	}
	w.inst.panics.Add(context.Background(), 1, l.metrics.conn)
	w.cfg.Logger.Error("panic while receiving a message; it is terminated and the worker goes on",
		"subject", msg.Subject(), "panicType", fmt.Sprintf("%T", r), "stack", stackWithoutArguments(debug.Stack()))
	if err := msg.Term(); err != nil {
		w.cfg.Logger.Warn("term failed", "subject", msg.Subject(), "error", err)
	}
}

// panicMessageLimit bounds the panic message in the log line.
const panicMessageLimit = 200

// panicMessage is the panic value as text, scrubbed of every known secret
// and cut to panicMessageLimit bytes.
func (w *Worker) panicMessage(j *job, r any) string {
	var s string
	switch v := r.(type) {
	case error:
		s = v.Error()
	case string:
		s = v
	default:
		s = fmt.Sprintf("%v", v)
	}
	return truncateUTF8(w.scrub(j, s), panicMessageLimit)
}

// stackWithoutArguments drops the argument values from a stack trace's
// function lines ("pkg.(*T).fn(0xc000012345, {0x5, 0x6})" becomes
// "pkg.(*T).fn(...)"): they are words of the frames' arguments (pointers,
// lengths, and for small values the values themselves).
func stackWithoutArguments(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if l == "" || l[0] == '\t' || !strings.HasSuffix(l, ")") {
			continue
		}
		depth := 0
		for k := len(l) - 1; k >= 0; k-- {
			switch l[k] {
			case ')':
				depth++
			case '(':
				depth--
			}
			if depth == 0 {
				lines[i] = l[:k] + "(...)"
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
