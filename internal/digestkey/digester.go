package digestkey

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/messages"
)

// Digester computes commands' payload digests as the workers do, for a
// publisher that checks its results (syncctl publish --wait, migrate). It
// reads the fleet's key (Load, never creating it) only for a command that
// holds a secret, once; a failed read is retried on the next call.
type Digester struct {
	JetStream jetstream.JetStream
	Config    Config

	mu  sync.Mutex
	key []byte
}

// Digest returns c's payload digest. It fails for a command with a secret
// when the key cannot be read (ErrNoKey: no worker has started yet).
func (d *Digester) Digest(ctx context.Context, c *messages.Command) (string, error) {
	digest, err := c.PayloadDigest(nil)
	if !errors.Is(err, messages.ErrNoDigestKey) {
		return digest, err
	}
	key, err := d.loadKey(ctx)
	if err != nil {
		return "", err
	}
	return c.PayloadDigest(key)
}

func (d *Digester) loadKey(ctx context.Context) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.key != nil {
		return d.key, nil
	}
	if d.JetStream == nil {
		return nil, ErrNoKey
	}
	key, err := Load(ctx, d.JetStream, d.Config)
	if err != nil {
		return nil, err
	}
	d.key = key
	return key, nil
}

// Mismatch reports whether a result with payloadDigest got answers another
// payload than the one with digest want: the command's id was taken by
// another payload (JetStream's duplicate window dropped this publish, or
// the worker kept the first). A result without a digest (from a worker
// older than payloadDigest) or an unknown want is no mismatch.
func Mismatch(want, got string) bool { return want != "" && got != "" && want != got }

// ConflictMessage explains a Mismatch for id, without quoting any value.
func ConflictMessage(id string, original messages.Status, got string) string {
	return fmt.Sprintf("command id %q was already used with another payload (its result, %s, answers payloadDigest %s); "+
		"this payload was not applied: publish it under a new id", id, original, got)
}
