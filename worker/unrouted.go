package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/messages"
)

// The catch-all consumer is shared by the fleet. During a rolling deploy a
// worker that does not serve a connection yet may receive that connection's
// commands while the workers that will serve it are starting. So a command
// for a connection this worker does not serve is rejected as
// unknown_connection only when no worker serves it and a grace period has
// passed:
//
//   - a durable consumer for the connection exists on the commands stream
//     (some worker serves it, or did and will again): the catch-all acks the
//     command, that consumer delivers it (it starts from the stream's first
//     message, so it has or will have this one);
//   - else, while the command is younger than Config.UnknownConnectionGrace
//     (by its JetStream timestamp), it is handed back with a delay;
//   - after that it is rejected.
//
// Whether a consumer exists is cached for Config.JetStreamInfoTTL.

// deferUnrouted settles a catch-all delivery whose connection this worker
// does not serve but another does or may soon: true when it acked or
// handed it back, false when the command should be answered (rejected).
// backstop is the consumer's server-side MaxDeliver: the delivery before
// the last one is never handed back, so the command is always answered.
func (w *Worker) deferUnrouted(msg jetstream.Msg, meta *jetstream.MsgMetadata, backstop int) bool {
	conn, ok := subjectConnection(w.cfg.Subjects, msg.Subject())
	if !ok {
		return false // not a command subject: the decoder says why
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.StoreTimeout)
	defer cancel()
	exists, err := w.consumers.exists(ctx, w, conn)
	if err == nil && exists {
		if err := msg.Ack(); err != nil {
			w.cfg.Logger.Warn("ack failed", "subject", msg.Subject(), "error", err)
		}
		return true
	}
	if int(meta.NumDelivered)+1 >= backstop {
		return false
	}
	age := w.cfg.now().Sub(meta.Timestamp)
	if err != nil {
		w.cfg.Logger.Warn("could not tell whether a consumer serves the connection; handing the command back", "connection", conn, "error", err)
	} else if age >= w.cfg.UnknownConnectionGrace {
		return false
	}
	delay := w.unroutedDelay(age)
	w.cfg.Logger.Debug("command for a connection no worker serves yet; handed back until one does or the grace ends",
		"connection", conn, "subject", msg.Subject(), "age", age, "delay", delay)
	w.handBack(msg, delay)
	return true
}

// unroutedStep is the delay between two deliveries of a command waiting
// for its connection: a tenth of the grace, between 100ms and 30s.
func (w *Worker) unroutedStep() time.Duration {
	return min(max(w.cfg.UnknownConnectionGrace/10, 100*time.Millisecond), 30*time.Second)
}

// unroutedDelay is the hand-back delay of a command of age waiting for its
// connection: a step, but no later than the grace's end.
func (w *Worker) unroutedDelay(age time.Duration) time.Duration {
	d := w.unroutedStep()
	if rest := w.cfg.UnknownConnectionGrace - age; rest > 0 && rest < d {
		d = rest
	}
	return d + jitter(d/10)
}

// graceDeliveries bounds the deliveries a command spends waiting for its
// connection: one per step of the grace, plus the first and the last.
func (w *Worker) graceDeliveries() int {
	step := w.unroutedStep()
	return int((w.cfg.UnknownConnectionGrace+step-1)/step) + 2
}

// subjectConnection reads the connection of a command subject
// (<prefix>.commands.<connection>.<resource>). A subject with more tokens
// is no command subject: no connection consumer (filter
// <prefix>.commands.<connection>.*) receives it, so the catch-all answers it.
func subjectConnection(s messages.Subjects, subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, strings.TrimSuffix(s.Commands(), ">"))
	if !ok {
		return "", false
	}
	conn, res, ok := strings.Cut(rest, ".")
	if !ok || res == "" || strings.Contains(res, ".") || !messages.ValidConnection(conn) {
		return "", false
	}
	return conn, true
}

// consumerCache remembers for a while whether a connection's durable
// consumer exists.
type consumerCache struct {
	mu   sync.Mutex
	seen map[string]consumerSeen
}

type consumerSeen struct {
	exists bool
	at     time.Time
}

func (c *consumerCache) exists(ctx context.Context, w *Worker, conn string) (bool, error) {
	c.mu.Lock()
	s, ok := c.seen[conn]
	c.mu.Unlock()
	now := w.cfg.now()
	if ok && now.Sub(s.at) < w.cfg.JetStreamInfoTTL {
		return s.exists, nil
	}
	_, err := w.cfg.JetStream.Consumer(ctx, w.cfg.Streams.Commands, consumerName(conn))
	switch {
	case err == nil:
		s = consumerSeen{exists: true, at: now}
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		s = consumerSeen{exists: false, at: now}
	default:
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]consumerSeen{}
	}
	c.seen[conn] = s
	return s.exists, nil
}
