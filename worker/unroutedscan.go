package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The unrouted scan: how commands for a connection no worker serves are
// found without delivering every command twice.
//
// The catch-all consumer (unroutedConsumer, filter <prefix>.commands.>) is
// headers-only: the scan reads each command's subject and headers, not its
// payload, so that a command a connection consumer serves costs JetStream a
// light delivery and a small ack. The few commands whose connection is not
// served by this worker and has no consumer (a typo, a connection not
// deployed yet) are fetched in full from the stream and handled like any
// delivery (see deferUnrouted): handed back until the grace ends or a
// consumer appears, then rejected as unknown_connection.
//
// Each command is acked on its own once it is answered or owned by a
// connection consumer (explicit acks). An earlier version acked a whole
// batch at once (AckAll): a cumulative ack covers every message up to it,
// whoever holds it, and a batch pulled before it was full leaves the next
// messages to another pull, so a worker's ack could cover commands another
// worker held and had not answered (a chaos run lost some that way when
// their worker was killed). A worker that dies mid-batch leaves its
// unacked commands to be redelivered after the ack wait.

// unroutedScanBatch is how many commands one pull of the scan reads; the
// catch-all consumer's MaxAckPending is a few of them, so that several
// workers may scan at once.
const unroutedScanBatch = 256

// minScanRetry is the least pause before the scan handles a handed-back
// command again.
const minScanRetry = 100 * time.Millisecond

// scan runs the catch-all consumer's loop (instead of run's pool) until the
// worker stops. It returns an error only when the consumer is gone for good.
func (l *consumeLoop) scan(ctx context.Context) error {
	stream, err := l.w.cfg.JetStream.Stream(ctx, l.w.cfg.Streams.Commands)
	if err != nil {
		return fmt.Errorf("unrouted scan: stream %s: %w", l.w.cfg.Streams.Commands, err)
	}
	failures := 0
	for l.w.stopping.Err() == nil {
		if !l.w.waitStoreTrusted() {
			break
		}
		batch, err := l.cons.Fetch(unroutedScanBatch, jetstream.FetchMaxWait(fetchWait))
		if err == nil {
			var msgs []jetstream.Msg
			for m := range batch.Messages() {
				msgs = append(msgs, m)
			}
			l.settleScanned(ctx, stream, msgs)
			err = batch.Error()
		}
		if err := l.pullFailed(ctx, err, &failures); err != nil {
			return err
		}
	}
	return nil
}

// settleScanned settles one batch of the scan in order, acking each
// command once it is answered or owned by a connection consumer.
func (l *consumeLoop) settleScanned(ctx context.Context, stream jetstream.Stream, msgs []jetstream.Msg) {
	if len(msgs) == 0 {
		return
	}
	// The batch stays under the heartbeat (in-progress acks) until each
	// command is acked: a command waiting for its connection may hold the
	// rest.
	held := make([]*tracked, len(msgs))
	for i, m := range msgs {
		held[i] = l.w.inflight.hold(m, false)
	}
	defer func() {
		for _, t := range held {
			l.w.inflight.release(t)
		}
	}()
	for i, m := range msgs {
		if !l.owned(ctx, m) && !l.settleScannedUnrouted(stream, m) {
			// Stopping: what is not acked goes straight back for the fleet.
			for _, rest := range msgs[i:] {
				l.w.handBack(rest, 0)
			}
			return
		}
		if err := m.Ack(); err != nil {
			l.w.cfg.Logger.Warn("ack of a scanned command failed; it is scanned again", "subject", m.Subject(), "error", err)
		}
	}
}

// settleScannedUnrouted handles a scanned command no connection consumer
// owns until it is settled for good (true), or the worker stops (false).
func (l *consumeLoop) settleScannedUnrouted(stream jetstream.Stream, m jetstream.Msg) bool {
	for handBacks := 0; ; handBacks++ {
		delay, ok := l.settleUnrouted(stream, m, handBacks)
		if ok {
			return true
		}
		if delay < 0 {
			// Left to its ack wait: handled again after a step, as its
			// redelivery would be (a stored result answers it).
			delay = l.w.unroutedStep()
		}
		if l.w.stopping.Err() != nil || !l.wait(max(delay, minScanRetry)) {
			return false
		}
	}
}

// owned reports whether a scanned command is some connection consumer's:
// this worker serves its connection, or a durable consumer for it exists.
func (l *consumeLoop) owned(ctx context.Context, m jetstream.Msg) bool {
	if l.w.routed(m.Subject()) {
		return true
	}
	conn, ok := subjectConnection(l.w.cfg.Subjects, m.Subject())
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, l.w.cfg.StoreTimeout)
	defer cancel()
	exists, err := l.w.consumers.exists(ctx, l.w, conn)
	return err == nil && exists
}

// settleUnrouted fetches a scanned command in full and handles it as a
// delivery of the catch-all. ok when it was settled for good (answered,
// or acked because a consumer owns it); otherwise it was handed back, to
// be handled again after delay, or (delay < 0) left unsettled.
func (l *consumeLoop) settleUnrouted(stream jetstream.Stream, m jetstream.Msg, handBacks int) (delay time.Duration, ok bool) {
	meta, err := m.Metadata()
	if err != nil {
		l.w.cfg.Logger.Error("scanned message without JetStream metadata skipped", "subject", m.Subject(), "error", err)
		return 0, true
	}
	ctx, cancel := context.WithTimeout(l.w.work, l.w.cfg.StoreTimeout)
	raw, err := stream.GetMsg(ctx, meta.Sequence.Stream)
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, true // gone from the stream (its limits): nothing to answer
	case err != nil:
		l.w.cfg.Logger.Warn("could not read a command for an unserved connection; retrying", "subject", m.Subject(), "error", err)
		return l.w.unroutedStep(), false
	}
	d := meta.NumDelivered + uint64(handBacks)
	sm := &scannedMsg{Msg: m, raw: raw, meta: *meta}
	sm.meta.NumDelivered = d
	t := l.w.inflight.hold(sm, false)
	done := make(chan struct{})
	l.w.handle(l, t, func() {
		l.w.inflight.release(t)
		close(done)
	})
	<-done // the completer settles a result it publishes
	return sm.outcome()
}

// wait sleeps for d unless the worker stops first (false).
func (l *consumeLoop) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.w.stopping.Done():
		return false
	}
}

// scannedMsg is a command the unrouted scan read in full from the stream,
// handled as a delivery: its payload and headers are the stored message's,
// its metadata the scan's delivery's (with the hand-backs the scan made
// counted as deliveries), and its settlement is recorded for the scan,
// which acks the scanned delivery once it is settled for good.
type scannedMsg struct {
	jetstream.Msg // the headers-only delivery: Reply, InProgress
	raw           *jetstream.RawStreamMsg
	meta          jetstream.MsgMetadata

	mu      sync.Mutex
	settled bool
	back    bool
	delay   time.Duration
}

var _ jetstream.Msg = (*scannedMsg)(nil)

func (s *scannedMsg) Metadata() (*jetstream.MsgMetadata, error) {
	m := s.meta
	return &m, nil
}
func (s *scannedMsg) Data() []byte         { return s.raw.Data }
func (s *scannedMsg) Headers() nats.Header { return s.raw.Header }
func (s *scannedMsg) Subject() string      { return s.raw.Subject }
func (s *scannedMsg) Ack() error           { return s.settle(false, 0) }
func (s *scannedMsg) Term() error          { return s.settle(false, 0) }
func (s *scannedMsg) Nak() error           { return s.settle(true, 0) }
func (s *scannedMsg) TermWithReason(string) error {
	return s.settle(false, 0)
}
func (s *scannedMsg) NakWithDelay(d time.Duration) error { return s.settle(true, d) }
func (s *scannedMsg) DoubleAck(context.Context) error    { return s.settle(false, 0) }

func (s *scannedMsg) settle(back bool, delay time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.settled {
		return jetstream.ErrMsgAlreadyAckd
	}
	s.settled, s.back, s.delay = true, back, delay
	return nil
}

// outcome is what settleUnrouted reports: settled for good, handed back
// after a delay, or not settled at all (delay -1: left to its ack wait).
func (s *scannedMsg) outcome() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.settled:
		return -1, false
	case s.back:
		return s.delay, false
	}
	return 0, true
}
