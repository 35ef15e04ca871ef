package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// A held command's copy must be known to the store before a late copy of
// it or a reused id can be claimed, even if the worker holding it is
// killed before it begins it (docs/CONTRACT.md §3 and §5.1), and a
// resource held for the command (an earlier delivery of it may have
// written) must stay held until the copy begins, however long it waits for
// a goroutine. So the consume loop sights the messages of a fetch as they
// arrive, in one round trip per arrival (dedup.Store.Sight), before it
// hands any of them on, and the heartbeat sights again the ones still
// waiting, which keeps their commands' holds. The command is decoded once
// for sighting and processing (decodeHeld).

// maxSightBatch bounds the sightings of one Sight call.
const maxSightBatch = 256

// decoded is a held message's command, decoded once.
type decoded struct {
	cmd  *messages.Command
	err  error // DecodeCommand's
	hash string
	// hashErr is PayloadDigest's (never for a decoded command).
	hashErr error
}

// decode decodes msg's command and its payload digest.
func (w *Worker) decode(t *tracked) *decoded {
	d := &decoded{}
	d.cmd, d.err = messages.DecodeCommand(t.msg.Subject(), t.msg.Data(), messages.DecodeOptions{MaxBytes: w.cfg.MaxCommandBytes, Subjects: w.cfg.Subjects})
	if d.err == nil {
		d.hash, d.hashErr = d.cmd.PayloadDigest(w.cfg.DigestKey)
	}
	return d
}

// decodeHeld returns t's command, decoded once whoever asks first (the
// sighter or the goroutine that processes it). A decode that panicked is
// done again by the caller, so that the goroutine processing the command
// meets the panic where it is contained per command (recoverPanic).
func (w *Worker) decodeHeld(t *tracked) *decoded {
	t.decodeOnce.Do(func() {
		defer func() {
			if recover() != nil {
				t.dec = nil
			}
		}()
		t.dec = w.decode(t)
	})
	if t.dec == nil {
		return w.decode(t)
	}
	return t.dec
}

// sight records the sightings of batch's commands in one store call,
// bounded by ctx and StoreTimeout, keeping their holds (see above). Best
// effort: a message it cannot decode, or a failed call, is left to Begin,
// which records the sighting too.
func (w *Worker) sight(ctx context.Context, batch []*tracked) {
	if !w.storeTrusted() {
		return // nothing is recorded on a store that may have lost its state
	}
	_ = w.recordSightings(ctx, batch) // logged; Begin records them
}

// recordSightings is sight without the store guard's verdict (see
// sightHeld); it returns the store's error.
func (w *Worker) recordSightings(ctx context.Context, batch []*tracked) error {
	sightings := make([]dedup.Sighting, 0, len(batch))
	for _, t := range batch {
		d := w.decodeHeld(t)
		meta, err := t.msg.Metadata()
		if d.err != nil || d.hashErr != nil || err != nil {
			continue
		}
		sightings = append(sightings, dedup.Sighting{CommandID: d.cmd.ID, PayloadHash: d.hash,
			Origin: dedup.Origin{Seq: meta.Sequence.Stream, Time: meta.Timestamp}, TTL: w.cfg.ResultTTL,
			LeaseKey: d.cmd.Connection + "/" + d.cmd.Resource, Hold: w.holdFor(d.cmd.Connection)})
	}
	if len(sightings) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.StoreTimeout)
	defer cancel()
	start := time.Now()
	err := w.cfg.Store.Sight(ctx, sightings)
	w.storeDone(ctx, opSight, start)
	if err != nil {
		w.storeCallFailed(err)
		w.cfg.Logger.Warn("recording the sightings of held commands failed; their Begin records them", slog.Int("commands", len(sightings)), slog.String("error", err.Error()))
	}
	return err
}
