package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/kvdedup"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
	"github.com/oauthsync/oauthsync/worker/storeguard"
)

// storeFlags name the dedup store and its guard record.
type storeFlags struct {
	redisURL, redisPrefix, guardBucket string
}

func newStore(g *globals) *cobra.Command {
	f := &storeFlags{}
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Inspect the dedup store's state and decide after it lost it",
		Long: `The workers' store guard compares the dedup store's epoch marker and
completion counter with the copy kept in NATS (bucket SYNC_STORE_GUARD). When
the store came back empty or from an older snapshot, the workers stop applying
commands and /readyz says why, until an operator runs "syncctl store accept"
(see deploy/PRODUCTION.md, "Dedup store lost its state").

The store is Redis when --redis-url (or $REDIS_URL, or the --config file's
redis.url) is set, else the JetStream key-value store of the embedded default.`,
		Example: `  syncctl store status --config syncworker.yaml
  syncctl store accept --config syncworker.yaml`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.redisURL, "redis-url", "", "Redis of the dedup store (default $REDIS_URL or the config's redis.url; none: the JetStream KV store)")
	pf.StringVar(&f.redisPrefix, "redis-prefix", "", "the store's Redis key prefix (default the config's redis.keyPrefix, or oauthsync)")
	pf.StringVar(&f.guardBucket, "guard-bucket", storeguard.DefaultBucket, "key-value bucket of the guard records")
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the store's epoch and completion counter, the guard's record, and the verdict",
		Example: `  syncctl store status
  syncctl store status --redis-url redis://127.0.0.1:6379/0 -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.storeStatus(ctxOf(cmd), f) },
	})
	var yes bool
	accept := &cobra.Command{
		Use:   "accept",
		Short: "Adopt the store's present state as the new baseline, so the workers apply commands again",
		Long: `accept writes a new epoch marker into the store and into the guard's record,
sets the high-water mark to the store's present completion counter, and clears
the lost verdict: the workers resume at their next check (every 2s).

What the store forgot stays forgotten: duplicates of commands it no longer
knows are applied again, and order keys start from what it holds. Read
deploy/PRODUCTION.md first. Asks for confirmation unless --yes.`,
		Example: `  syncctl store accept
  syncctl store accept --yes`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.storeAccept(ctxOf(cmd), f, yes) },
	}
	accept.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.AddCommand(accept)
	return cmd
}

// openGuard opens the dedup store the flags name and its guard.
func (g *globals) openGuard(ctx context.Context, f *storeFlags, js jetstream.JetStream) (*storeguard.Guard, string, func(), error) {
	url := cmp.Or(f.redisURL, g.getenv("REDIS_URL"))
	prefix := f.redisPrefix
	if g.cfg != nil {
		url = cmp.Or(url, g.cfg.Redis.URL)
		prefix = cmp.Or(prefix, g.cfg.Redis.KeyPrefix)
	}
	var store dedup.Marked
	var key, kind string
	closeStore := func() {}
	if url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, "", nil, usageErr("--redis-url: %w", err)
		}
		client := redis.NewClient(opt)
		closeStore = func() { _ = client.Close() }
		prefix = cmp.Or(prefix, redisdedup.DefaultPrefix)
		store, key, kind = redisdedup.New(client, redisdedup.Config{Prefix: prefix}), storeguard.Key("redis", prefix), "redis "+opt.Addr+" prefix "+prefix
	} else {
		s, err := kvdedup.Open(ctx, js, kvdedup.Config{Bucket: kvdedup.DefaultBucket})
		if err != nil {
			return nil, "", nil, err
		}
		store, key, kind = s, storeguard.Key("kv", kvdedup.DefaultBucket), "JetStream KV "+kvdedup.DefaultBucket
	}
	guard, err := storeguard.Open(ctx, js, store, storeguard.Config{Bucket: f.guardBucket, Key: key})
	if err != nil {
		closeStore()
		return nil, "", nil, err
	}
	return guard, kind, closeStore, nil
}

type storeStatusOutput struct {
	Store            string    `json:"store"`
	GuardKey         string    `json:"guardKey"`
	State            string    `json:"state"`
	Reason           string    `json:"reason,omitempty"`
	StoreEpoch       string    `json:"storeEpoch"`
	StoreCompletions int64     `json:"storeCompletions"`
	GuardEpoch       string    `json:"guardEpoch"`
	HighWater        int64     `json:"highWater"`
	LostAt           time.Time `json:"lostAt,omitzero"`
	AcceptedAt       time.Time `json:"acceptedAt,omitzero"`
	UpdatedAt        time.Time `json:"updatedAt,omitzero"`
}

func statusOf(kind, key string, st storeguard.Status) storeStatusOutput {
	return storeStatusOutput{Store: kind, GuardKey: key, State: st.State.String(), Reason: st.Reason,
		StoreEpoch: st.Store.Epoch, StoreCompletions: st.Store.Completions, GuardEpoch: st.Record.Epoch,
		HighWater: st.Record.HighWater, LostAt: st.Record.LostAt, AcceptedAt: st.Record.AcceptedAt, UpdatedAt: st.Record.UpdatedAt}
}

func (g *globals) printStoreStatus(out storeStatusOutput) error {
	if g.json() {
		return g.printJSON(out)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	orNone := func(s string) string { return cmp.Or(s, "(none)") }
	fmt.Fprintf(tw, "store\t%s\n", out.Store)
	fmt.Fprintf(tw, "state\t%s\n", out.State)
	if out.Reason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", out.Reason)
	}
	fmt.Fprintf(tw, "store epoch\t%s\n", orNone(out.StoreEpoch))
	fmt.Fprintf(tw, "store completions\t%d\n", out.StoreCompletions)
	fmt.Fprintf(tw, "guard epoch\t%s\n", orNone(out.GuardEpoch))
	fmt.Fprintf(tw, "high-water mark\t%d\n", out.HighWater)
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"lost at", out.LostAt}, {"accepted at", out.AcceptedAt}, {"updated at", out.UpdatedAt}} {
		if !t.at.IsZero() {
			fmt.Fprintf(tw, "%s\t%s\n", t.name, t.at.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintf(tw, "guard record\t%s\n", out.GuardKey)
	return tw.Flush()
}

func (g *globals) storeStatus(ctx context.Context, f *storeFlags) error {
	nc, js, err := g.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	guard, kind, closeStore, err := g.openGuard(ctx, f, js)
	if err != nil {
		return err
	}
	defer closeStore()
	st, err := guard.Inspect(ctx)
	if err != nil {
		return err
	}
	return g.printStoreStatus(statusOf(kind, guard.Key(), st))
}

func (g *globals) storeAccept(ctx context.Context, f *storeFlags, yes bool) error {
	nc, js, err := g.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	guard, kind, closeStore, err := g.openGuard(ctx, f, js)
	if err != nil {
		return err
	}
	defer closeStore()
	before, err := guard.Inspect(ctx)
	if err != nil {
		return err
	}
	if !yes {
		fmt.Fprintf(g.stderr, "store %s: state %s", kind, before.State)
		if before.Reason != "" {
			fmt.Fprintf(g.stderr, " (%s)", before.Reason)
		}
		fmt.Fprintf(g.stderr, "\nAccepting adopts the store's present state: what it forgot stays forgotten.\nType \"accept\" to confirm: ")
		line, _ := bufio.NewReader(g.stdin).ReadString('\n')
		if strings.TrimSpace(line) != "accept" {
			return usageErr("not confirmed; nothing changed (use --yes to skip the question)")
		}
	}
	st, err := guard.Accept(ctx)
	if err != nil {
		return err
	}
	out := statusOf(kind, guard.Key(), st)
	if !g.json() {
		fmt.Fprintf(g.stdout, "accepted: new epoch %s, high-water mark %d (was: %s)\n", st.Record.Epoch, st.Record.HighWater, before.State)
	}
	return g.printStoreStatus(out)
}
