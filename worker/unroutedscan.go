package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The unrouted scan: how commands for a connection no worker serves are
// found without delivering every command twice.
//
// The catch-all consumer (unroutedConsumer, filter <prefix>.commands.>) is
// headers-only and acknowledges cumulatively (AckAll): the scan reads each
// command's subject and headers, not its payload, and acks a whole batch
// with one ack, so that a command a connection consumer serves costs
// JetStream a light delivery and no ack of its own. The few commands whose
// connection is not served by this worker and has no consumer (a typo, a
// connection not deployed yet) are fetched in full from the stream and
// handled like any delivery (see deferUnrouted): handed back until the
// grace ends or a consumer appears, then rejected as unknown_connection.
//
// The scan settles its batch in stream order and acks only up to the last
// command settled, so a command is never acked before it is answered or
// owned by a connection consumer; a worker that dies mid-batch leaves the
// rest to be redelivered after the ack wait. MaxAckPending is one batch,
// so that mostly one worker of the fleet scans at a time; but a batch
// pulled before it was full leaves the next messages to another pull, and
// a cumulative ack covers every message up to it whoever holds them: so
// the scan acks only up to where every earlier message is acked or its
// own, and keeps the rest for later (see ackScanned).

// unroutedScanBatch is how many commands one pull of the scan reads, and
// so the catch-all consumer's MaxAckPending.
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
	defer l.ackScanned(ctx, true) // what may be acked is, the rest handed back
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

// settleScanned settles one batch of the scan in order and acks what it
// may of it (see ackScanned).
func (l *consumeLoop) settleScanned(ctx context.Context, stream jetstream.Stream, msgs []jetstream.Msg) {
	if len(msgs) == 0 && len(l.unacked) == 0 {
		return
	}
	// The whole batch stays under the heartbeat (in-progress acks) until
	// it is acked: a command waiting for its connection may hold it.
	held := make([]*tracked, len(msgs))
	for i, m := range msgs {
		held[i] = l.w.inflight.hold(m, false)
	}
	settled := -1 // msgs[:settled+1] are settled
	defer func() {
		for i, t := range held {
			if i <= settled {
				l.unacked = append(l.unacked, scanned{t: t, seq: streamSeq(t.msg)})
				continue
			}
			if l.w.stopping.Err() != nil {
				l.w.handBack(t.msg, 0) // not settled: straight back for the fleet
			}
			l.w.inflight.release(t)
		}
		l.ackScanned(ctx, false)
	}()
	for i, m := range msgs {
		if !l.owned(ctx, m) {
			handBacks := 0
			for {
				delay, ok := l.settleUnrouted(stream, m, handBacks)
				if ok {
					break
				}
				if delay < 0 {
					// Left to its ack wait: handled again after a step, as
					// its redelivery would be (a stored result answers it).
					// Nothing after it may be acked before it is.
					delay = l.w.unroutedStep()
				}
				if l.w.stopping.Err() != nil || !l.wait(max(delay, minScanRetry)) {
					return // stopping: nothing from it on is acked
				}
				handBacks++
			}
		}
		settled = i
	}
}

// scanned is a settled message of the catch-all not acked yet, held
// under the heartbeat.
type scanned struct {
	t     *tracked
	seq   uint64 // its stream sequence
	since time.Time
}

// streamSeq is a message's stream sequence (0 when it has no metadata).
func streamSeq(m jetstream.Msg) uint64 {
	meta, err := m.Metadata()
	if err != nil {
		return 0
	}
	return meta.Sequence.Stream
}

// ackPatience bounds, in ack waits, how long a settled message of the
// catch-all waits for an older batch's ack before it is handed back.
const ackPatience = 2

// ackScanned acks the settled messages of the scan (l.unacked) that one
// ack may cover. An ack of the catch-all covers every message up to it
// (AckAll), whoever holds them, and another worker (or this one before a
// restart) may hold an older batch: a batch that was not full when it was
// pulled lets the next pull have the messages after it. So it acks only
// up to where every earlier message is acked or settled here, and keeps
// the rest, under the heartbeat, for the next batch: the older batch is
// acked by its worker, or comes back after its ack wait, to this scan or
// another. One that waits longer than ackPatience ack waits is handed
// back (scanned again, its stored result answers it). When the scan ends
// (last) or the worker stops, what is left is handed back.
func (l *consumeLoop) ackScanned(ctx context.Context, last bool) {
	now := time.Now()
	for i := range l.unacked {
		if l.unacked[i].since.IsZero() {
			l.unacked[i].since = now
		}
	}
	slices.SortFunc(l.unacked, func(a, b scanned) int { return cmp.Compare(a.seq, b.seq) })
	if len(l.unacked) > 0 {
		n, err := l.safeAck(ctx)
		if err != nil {
			l.w.cfg.Logger.Warn("reading the catch-all consumer failed; its settled commands are acked later", "error", err)
		}
		if n > 0 {
			if err := l.unacked[n-1].t.msg.Ack(); err != nil { // AckAll: and all before it
				l.w.cfg.Logger.Warn("ack of the unrouted scan failed; its commands are scanned again", "error", err)
			}
			for _, u := range l.unacked[:n] {
				l.w.inflight.release(u.t)
			}
			l.unacked = slices.Delete(l.unacked, 0, n)
		}
	}
	kept := l.unacked[:0]
	for _, u := range l.unacked {
		if last || l.w.stopping.Err() != nil || now.Sub(u.since) > ackPatience*l.w.cfg.AckWait {
			l.w.handBack(u.t.msg, 0)
			l.w.inflight.release(u.t)
			continue
		}
		kept = append(kept, u)
	}
	l.unacked = kept
}

// safeAck says how many of l.unacked (ascending) one ack may cover now:
// those up to where every message is acked or settled here, or all of
// them when no other holder has any message of the consumer.
func (l *consumeLoop) safeAck(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, l.w.cfg.StoreTimeout)
	defer cancel()
	info, err := l.cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.NumAckPending <= len(l.unacked) {
		return len(l.unacked), nil // every pending message is settled here
	}
	n := 0
	for q := info.AckFloor.Stream + 1; n < len(l.unacked) && l.unacked[n].seq == q; q++ {
		n++
	}
	return n, nil
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
