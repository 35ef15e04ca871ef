package digestkey_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/digestkey"
	"github.com/oauthsync/oauthsync/internal/testenv"
)

func TestEnsureCreatesOneKeyForEveryone(t *testing.T) {
	ctx := context.Background()
	js, err := jetstream.New(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := digestkey.Config{Bucket: "T" + testenv.Unique() + "_KEYS"}
	t.Cleanup(func() { _ = js.DeleteKeyValue(context.Background(), cfg.Bucket) })

	if _, err := digestkey.Load(ctx, js, cfg); !errors.Is(err, digestkey.ErrNoKey) {
		t.Fatalf("Load before any Ensure: err = %v, want ErrNoKey", err)
	}
	// Workers starting together race to create the bucket and the key:
	// all must end with the same key.
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = digestkey.Ensure(ctx, js, cfg) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Ensure %d: %v", i, errs[i])
		}
		if len(keys[i]) != digestkey.Size || string(keys[i]) != string(keys[0]) {
			t.Fatalf("Ensure %d returned another key (%d bytes)", i, len(keys[i]))
		}
	}
	loaded, err := digestkey.Load(ctx, js, cfg)
	if err != nil || string(loaded) != string(keys[0]) {
		t.Fatalf("Load = %d bytes, %v; want the ensured key", len(loaded), err)
	}
	again, err := digestkey.Ensure(ctx, js, cfg)
	if err != nil || string(again) != string(keys[0]) {
		t.Fatalf("second Ensure changed the key (%v)", err)
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Values() != 1 {
		t.Errorf("bucket holds %d values, want 1", st.Values())
	}
	if info := st.(*jetstream.KeyValueBucketStatus).StreamInfo(); info.Config.Storage != jetstream.FileStorage {
		t.Errorf("bucket storage %v, want file", info.Config.Storage)
	}
}

func TestLoadRefusesAMalformedKey(t *testing.T) {
	ctx := context.Background()
	js, err := jetstream.New(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := digestkey.Config{Bucket: "T" + testenv.Unique() + "_KEYS"}
	t.Cleanup(func() { _ = js.DeleteKeyValue(context.Background(), cfg.Bucket) })
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: cfg.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, digestkey.Key, []byte("not-hex-secretvalue")); err != nil {
		t.Fatal(err)
	}
	_, err = digestkey.Load(ctx, js, cfg)
	if err == nil || errors.Is(err, digestkey.ErrNoKey) {
		t.Fatalf("Load of a malformed key: err = %v", err)
	}
	if strings.Contains(err.Error(), "not-hex-secretvalue") {
		t.Errorf("error quotes the stored value: %v", err)
	}
}
