package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/internal/plan"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/kvdedup"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
)

// orderKeyStore is what syncctl needs of the worker's dedup store: a
// resource's order keys, to show, reset and plan with.
type orderKeyStore interface {
	OrderKeys(ctx context.Context, leaseKey string) (map[string]dedup.OrderKey, error)
	ResetOrderKeys(ctx context.Context, leaseKey string, fields []string) error
}

// openOrderKeys opens the dedup store the workers use, as syncworker
// chooses it: Redis at redisURL (the --redis-url flag or the config's
// redis.url, with its redis.keyPrefix), else the JetStream key-value
// buckets of the embedded default in NATS. It never creates anything.
func (g *globals) openOrderKeys(ctx context.Context, js jetstream.JetStream, redisURL string) (orderKeyStore, func(), error) {
	var prefix string
	if g.cfg != nil {
		redisURL = cmp.Or(redisURL, g.cfg.Redis.URL)
		prefix = g.cfg.Redis.KeyPrefix
	}
	if redisURL != "" {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			// The URL may hold a password: it is not repeated.
			return nil, nil, usageErr("the Redis URL is not valid (redis://[user:password@]host:port/db)")
		}
		client := redis.NewClient(opt)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := client.Ping(pctx).Err(); err != nil {
			_ = client.Close()
			return nil, nil, fmt.Errorf("redis at %s does not answer: %w", opt.Addr, err)
		}
		return redisdedup.New(client, redisdedup.Config{Prefix: prefix}), func() { _ = client.Close() }, nil
	}
	s, err := kvdedup.Open(ctx, js, kvdedup.Config{})
	if err != nil {
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, nil, fmt.Errorf("no dedup store in NATS (bucket %s_state): has a worker without redis.url run on this server? (with Redis, give --config or --redis-url): %w", kvdedup.DefaultBucket, err)
		}
		return nil, nil, err
	}
	return s, func() {}, nil
}

func newOrderKeys(g *globals) *cobra.Command {
	var redisURL string
	cmd := &cobra.Command{
		Use:   "orderkeys",
		Short: "Show and reset a resource's per-field order keys",
		Long: `Each field of a resource keeps the order key of the command that last wrote
it: data.sequence, else the time JetStream stored the command (Unix ms), with
the stream sequence breaking ties. A command whose key is lower skips the
field (skippedFields). orderkeys shows them, and resets them when a key was
pinned too high (a data.sequence from the wrong scale, a clock far ahead), so
that the next command writes the field whatever its key.

The store is the workers' own: Redis when --config has redis.url (or with
--redis-url), else the JetStream key-value buckets in NATS.`,
		Example: `  syncctl orderkeys show rc-prod 65a7d77142a7e12453052d59 --config syncworker.yaml
  syncctl orderkeys reset rc-prod 65a7d77142a7e12453052d59 --field name --yes --config syncworker.yaml`,
	}
	cmd.PersistentFlags().StringVar(&redisURL, "redis-url", "", "Redis URL of the workers' dedup store (default the --config's redis.url; none: the JetStream KV store)")

	show := &cobra.Command{
		Use:   "show <connection> <resource>",
		Short: "Show each field's order key and stream sequence",
		Example: `  syncctl orderkeys show rc-prod 65a7d77142a7e12453052d59 --config syncworker.yaml
  syncctl orderkeys show rc-dev 65a7d77142a7e12453052d5b -o json`,
		Args: exactArgs(2, "a connection and a resource"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.orderKeysShow(ctxOf(cmd), redisURL, args[0], args[1])
		},
	}
	var fields []string
	var yes bool
	reset := &cobra.Command{
		Use:   "reset <connection> <resource> [--field f]... --yes",
		Short: "Delete a resource's order keys (all, or the --field ones)",
		Long: `reset deletes the order keys of the given fields of a resource (every field
without --field), so that the next command on them writes them whatever its
order key. It needs --yes. A command being applied at that moment still
records its keys.`,
		Example: `  syncctl orderkeys reset rc-prod 65a7d77142a7e12453052d59 --field name --field redirectUri --yes --config syncworker.yaml
  syncctl orderkeys reset rc-dev 65a7d77142a7e12453052d5b --yes`,
		Args: exactArgs(2, "a connection and a resource"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.orderKeysReset(ctxOf(cmd), redisURL, args[0], args[1], fields, yes)
		},
	}
	reset.Flags().StringArrayVar(&fields, "field", nil, "a field to reset (canonical name, or providerFields.<name>); repeatable; default every field")
	reset.Flags().BoolVar(&yes, "yes", false, "really reset")
	cmd.AddCommand(show, reset)
	return cmd
}

// checkResource refuses a connection or resource that no subject can hold.
func checkResource(connection, resource string) error {
	if !messages.ValidConnection(connection) {
		return usageErr("connection %q: want [a-z0-9_-]{1,64}", connection)
	}
	if !messages.ValidResource(resource) {
		return usageErr("resource %q: want [A-Za-z0-9_-]{1,128}", resource)
	}
	return nil
}

// orderKeyJSON is one field's order key in -o json output.
type orderKeyJSON struct {
	Field          string    `json:"field"`
	Key            int64     `json:"key"`
	StreamSequence uint64    `json:"streamSequence"`
	KeyTime        time.Time `json:"keyTime,omitzero"`
}

// keyTime reads an order key as a Unix time in ms when it plausibly is one
// (years 2000 to 2200); zero otherwise.
func keyTime(key int64) time.Time {
	lo, hi := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	if key < lo || key > hi {
		return time.Time{}
	}
	return time.UnixMilli(key).UTC()
}

// sortedKeys lists keys by field name.
func sortedKeys(keys map[string]dedup.OrderKey) []orderKeyJSON {
	out := make([]orderKeyJSON, 0, len(keys))
	for f, k := range keys {
		out = append(out, orderKeyJSON{Field: f, Key: k.Key, StreamSequence: k.Seq, KeyTime: keyTime(k.Key)})
	}
	slices.SortFunc(out, func(a, b orderKeyJSON) int { return strings.Compare(a.Field, b.Field) })
	return out
}

func (g *globals) withOrderKeys(ctx context.Context, redisURL string, fn func(orderKeyStore) error) error {
	nc, js, err := g.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	s, closeStore, err := g.openOrderKeys(ctx, js, redisURL)
	if err != nil {
		return err
	}
	defer closeStore()
	return fn(s)
}

func (g *globals) orderKeysShow(ctx context.Context, redisURL, connection, resource string) error {
	if err := checkResource(connection, resource); err != nil {
		return err
	}
	return g.withOrderKeys(ctx, redisURL, func(s orderKeyStore) error {
		keys, err := s.OrderKeys(ctx, connection+"/"+resource)
		if err != nil {
			return err
		}
		list := sortedKeys(keys)
		if g.json() {
			return g.printJSON(struct {
				Connection string         `json:"connection"`
				Resource   string         `json:"resource"`
				OrderKeys  []orderKeyJSON `json:"orderKeys"`
			}{connection, resource, list})
		}
		if len(list) == 0 {
			fmt.Fprintf(g.stdout, "no order keys for %s/%s: the next command writes every field\n", connection, resource)
			return nil
		}
		tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FIELD\tKEY\tKEY AS TIME (UTC)\tSTREAM SEQ")
		for _, k := range list {
			t := "-"
			if !k.KeyTime.IsZero() {
				t = k.KeyTime.Format("2006-01-02T15:04:05.000Z")
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", k.Field, k.Key, t, k.StreamSequence)
		}
		return tw.Flush()
	})
}

func (g *globals) orderKeysReset(ctx context.Context, redisURL, connection, resource string, fields []string, yes bool) error {
	if err := checkResource(connection, resource); err != nil {
		return err
	}
	if slices.Contains(fields, "") {
		return usageErr("--field needs a field name")
	}
	what := "every order key"
	if len(fields) > 0 {
		what = "the order keys of " + strings.Join(fields, ", ")
	}
	if !yes {
		return usageErr("this deletes %s of %s/%s, so that the next command writes those fields whatever its key: add --yes", what, connection, resource)
	}
	return g.withOrderKeys(ctx, redisURL, func(s orderKeyStore) error {
		lk := connection + "/" + resource
		before, err := s.OrderKeys(ctx, lk)
		if err != nil {
			return err
		}
		if err := s.ResetOrderKeys(ctx, lk, fields); err != nil {
			return err
		}
		removed := []orderKeyJSON{}
		for _, k := range sortedKeys(before) {
			if len(fields) == 0 || slices.Contains(fields, k.Field) {
				removed = append(removed, k)
			}
		}
		if g.json() {
			return g.printJSON(struct {
				Connection string         `json:"connection"`
				Resource   string         `json:"resource"`
				Reset      []orderKeyJSON `json:"reset"`
			}{connection, resource, removed})
		}
		if len(removed) == 0 {
			fmt.Fprintf(g.stdout, "no order key to reset for %s/%s\n", connection, resource)
			return nil
		}
		for _, k := range removed {
			fmt.Fprintf(g.stdout, "reset %s of %s/%s (was %d, stream sequence %d)\n", k.Field, connection, resource, k.Key, k.StreamSequence)
		}
		return nil
	})
}

// skippedLine is a skipped field of a plan: "- name: skipped, order key
// 1732269600000 wins (stored)".
func skippedLine(s plan.Skipped) string {
	from := "stored"
	if s.Line > 0 {
		from = fmt.Sprintf("line %d", s.Line)
	}
	return fmt.Sprintf("- %s: skipped, order key %d wins (%s)", s.Field, s.Key.Key, from)
}

// planOrderKeys opens the workers' store for --plan to read order keys
// from. When it cannot, the plan goes on without them, and says so on
// stderr: no field is then shown as skipped.
func (g *globals) planOrderKeys(ctx context.Context) (func(context.Context, string) (map[string]messages.OrderKey, error), func()) {
	var closeNATS func()
	var js jetstream.JetStream
	if g.cfg == nil || g.cfg.Redis.URL == "" {
		nc, j, err := g.connect()
		if err != nil {
			fmt.Fprintf(g.stderr, "syncctl: warning: order keys not read (%v): fields a higher order key wins are not shown as skipped\n", err)
			return nil, func() {}
		}
		js, closeNATS = j, nc.Close
	}
	s, closeStore, err := g.openOrderKeys(ctx, js, "")
	if err != nil {
		if closeNATS != nil {
			closeNATS()
		}
		fmt.Fprintf(g.stderr, "syncctl: warning: order keys not read (%v): fields a higher order key wins are not shown as skipped\n", err)
		return nil, func() {}
	}
	return s.OrderKeys, func() {
		closeStore()
		if closeNATS != nil {
			closeNATS()
		}
	}
}
