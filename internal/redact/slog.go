package redact

import (
	"context"
	"log/slog"
)

// Handler wraps h so that every record's message and string, error and
// Stringer attribute values (in groups too) are scrubbed by s and stripped
// of URL user information before h sees them: a last line of defence for a
// process that logs library errors (a NATS or Redis error quoting a URL).
func Handler(h slog.Handler, s *Scrubber) slog.Handler {
	return &handler{next: h, s: s}
}

type handler struct {
	next slog.Handler
	s    *Scrubber
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := make([]slog.Attr, len(as))
	for i, a := range as {
		c[i] = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(c), s: h.s}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), s: h.s}
}

func (h *handler) text(s string) string { return URLsInText(h.s.String(s)) }

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		c := make([]any, len(g))
		for i, x := range g {
			c[i] = h.attr(x)
		}
		return slog.Group(a.Key, c...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.text(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, h.text(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
