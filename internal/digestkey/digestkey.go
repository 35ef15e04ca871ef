package digestkey

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Config.
const (
	DefaultBucket = "SYNC_KEYS"
	// Key is the key of the payload digest key in the bucket.
	Key = "payload-digest"
	// Size is the key's length in bytes.
	Size = 32
)

// ErrNoKey is returned by Load when the bucket or the key does not exist
// yet (no worker has started).
var ErrNoKey = errors.New("digestkey: no payload digest key yet (it is created by the first syncworker)")

// Config names the bucket. Zero values take the defaults.
type Config struct {
	// Bucket is the key-value bucket. Default DefaultBucket.
	Bucket string
	// Replicas is the bucket's replica count when Ensure creates it. Default 1.
	Replicas int
}

// Ensure returns the digest key, creating the bucket and a random key first
// if they do not exist. Concurrent callers all get the same key.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg Config) ([]byte, error) {
	bucket := cmp.Or(cfg.Bucket, DefaultBucket)
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "oauthsync deployment keys (payload digest key)",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    cmp.Or(cfg.Replicas, 1),
		})
		if err != nil { // another process may have created it meanwhile
			if again, gerr := js.KeyValue(ctx, bucket); gerr == nil {
				kv, err = again, nil
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("digestkey: key-value bucket %s: %w", bucket, err)
	}
	key, err := read(ctx, kv)
	if !errors.Is(err, ErrNoKey) {
		return key, err
	}
	fresh := make([]byte, Size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("digestkey: generating a key: %w", err)
	}
	if _, err := kv.Create(ctx, Key, []byte(hex.EncodeToString(fresh))); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return read(ctx, kv) // another process created it first: use theirs
		}
		return nil, fmt.Errorf("digestkey: storing the key in %s: %w", bucket, err)
	}
	return fresh, nil
}

// Load returns the digest key without creating anything: ErrNoKey when
// the bucket or the key does not exist.
func Load(ctx context.Context, js jetstream.JetStream, cfg Config) ([]byte, error) {
	bucket := cmp.Or(cfg.Bucket, DefaultBucket)
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("digestkey: key-value bucket %s: %w", bucket, err)
	}
	return read(ctx, kv)
}

func read(ctx context.Context, kv jetstream.KeyValue) ([]byte, error) {
	e, err := kv.Get(ctx, Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("digestkey: reading %s: %w", Key, err)
	}
	key, err := hex.DecodeString(string(e.Value()))
	if err != nil || len(key) != Size {
		// Never quote the value: it is the key.
		return nil, fmt.Errorf("digestkey: %s in bucket %s is not %d hex-encoded bytes", Key, kv.Bucket(), Size)
	}
	return key, nil
}
