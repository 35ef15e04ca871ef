package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// A held command's first copy must be known to the store before a late
// copy of it or a reused id can be claimed, even if the worker holding it
// is killed before it begins it (docs/CONTRACT.md §3 and §5.1). Begin
// records it (dedup.Store.Begin's sighting) when a goroutine takes the
// message; a message that has to wait for a goroutine is sighted at once by
// the consume loop's sighter, which records the waiting messages of a
// fetch in one round trip (dedup.Store.Sight). The command is decoded once
// for both (decodeHeld).

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

// sighter records the sightings of the messages sent on waiting (held,
// not yet begun) until waiting is closed. Best effort: a message it
// cannot decode, or a store that fails, leaves the sighting to Begin.
func (w *Worker) sighter(waiting <-chan *tracked) {
	batch := make([]*tracked, 0, maxSightBatch)
	for t := range waiting {
		batch = append(batch[:0], t)
	more:
		for len(batch) < maxSightBatch {
			select {
			case t, ok := <-waiting:
				if !ok {
					break more
				}
				batch = append(batch, t)
			default:
				break more
			}
		}
		w.sight(batch)
	}
}

func (w *Worker) sight(batch []*tracked) {
	if !w.storeTrusted() {
		return // nothing is recorded on a store that may have lost its state
	}
	sightings := make([]dedup.Sighting, 0, len(batch))
	for _, t := range batch {
		d := w.decodeHeld(t)
		meta, err := t.msg.Metadata()
		if d.err != nil || d.hashErr != nil || err != nil {
			continue
		}
		sightings = append(sightings, dedup.Sighting{CommandID: d.cmd.ID, PayloadHash: d.hash,
			Origin: dedup.Origin{Seq: meta.Sequence.Stream, Time: meta.Timestamp}, TTL: w.cfg.ResultTTL})
	}
	if len(sightings) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.StoreTimeout)
	defer cancel()
	start := time.Now()
	err := w.cfg.Store.Sight(ctx, sightings)
	w.storeDone(ctx, opSight, start)
	if err != nil {
		w.storeCallFailed(err)
		w.cfg.Logger.Warn("recording the sightings of held commands failed; their Begin records them", slog.Int("commands", len(sightings)), slog.String("error", err.Error()))
	}
}
