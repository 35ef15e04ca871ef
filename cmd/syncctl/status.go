package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/redisflow"
)

func newStatus(g *globals) *cobra.Command {
	var window time.Duration
	f := &storeFlags{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the streams, the workers' consumers per connection, and recent results by status",
		Long: `status shows the three streams (messages, bytes, age of the oldest message),
the workers' durable consumers on the commands stream, one per connection
(pending, waiting for ack, redelivered, paused by an open circuit on NATS
2.11+), each connection's flow control (its circuit, the provider's wait
signal, its rate limit), and how many results of each status were published
in the last --window.

Flow control is read from Redis (--redis-url, $REDIS_URL or the config's
redis.url), where a fleet keeps it; without Redis each worker keeps its own,
and only a paused consumer shows.`,
		Example: `  syncctl status
  syncctl status --window 1h -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.status(ctxOf(cmd), window, f) },
	}
	cmd.Flags().DurationVar(&window, "window", 15*time.Minute, "count the results of this last period")
	cmd.Flags().StringVar(&f.redisURL, "redis-url", "", "Redis the workers keep flow control in (default $REDIS_URL or the config's redis.url)")
	cmd.Flags().StringVar(&f.redisPrefix, "redis-prefix", "", "the workers' Redis key prefix (default the config's redis.keyPrefix, or oauthsync)")
	return cmd
}

type streamStatus struct {
	Name      string    `json:"name"`
	Subjects  []string  `json:"subjects"`
	Messages  uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	FirstTime time.Time `json:"firstTime,omitzero"`
	LastTime  time.Time `json:"lastTime,omitzero"`
	Consumers int       `json:"consumers"`
	Error     string    `json:"error,omitempty"`
}

type consumerStatus struct {
	Name       string `json:"name"`
	Connection string `json:"connection"`
	// Lane is interactive or bulk (a migration's commands).
	Lane        string `json:"lane"`
	Filter      string `json:"filter"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ackPending"`
	Redelivered int    `json:"redelivered"`
	Waiting     int    `json:"waiting"`
	// PausedUntil: the consumer is paused (an open circuit, NATS 2.11+).
	PausedUntil time.Time `json:"pausedUntil,omitzero"`
}

// flowStatus is a connection's flow control, as the fleet shares it.
type flowStatus struct {
	Connection string `json:"connection"`
	// Circuit is closed, open or half-open (one probe command may go).
	Circuit    string    `json:"circuit"`
	ProbeAfter time.Time `json:"probeAfter,omitzero"`
	// WaitUntil is the provider's own wait signal (a 429's reset).
	WaitUntil time.Time `json:"waitUntil,omitzero"`
	// RateLimit is the configured limit (with --config), requests a second.
	RateLimit float64 `json:"rateLimitPerSecond,omitempty"`
	Burst     int     `json:"rateLimitBurst,omitempty"`
}

type statusOutput struct {
	Streams   []streamStatus   `json:"streams"`
	Consumers []consumerStatus `json:"consumers"`
	// Flow is each connection's flow control; FlowSource says where it was
	// read ("" when no Redis was named: the workers keep it themselves).
	Flow       []flowStatus   `json:"flow,omitempty"`
	FlowSource string         `json:"flowSource,omitempty"`
	Window     string         `json:"window"`
	Results    map[string]int `json:"results"`
}

func (g *globals) status(ctx context.Context, window time.Duration, f *storeFlags) error {
	if window <= 0 {
		return usageErr("--window must be positive")
	}
	nc, js, err := g.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	names := g.streams()
	out := statusOutput{Window: window.String(), Results: map[string]int{}}
	var commands jetstream.Stream
	for _, name := range []string{names.commands, names.results, names.deadLetter} {
		st := streamStatus{Name: name}
		s, err := js.Stream(ctx, name)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(ctx); err == nil {
				st.Subjects, st.Messages, st.Bytes, st.Consumers = info.Config.Subjects, info.State.Msgs, info.State.Bytes, info.State.Consumers
				if info.State.Msgs > 0 {
					st.FirstTime, st.LastTime = info.State.FirstTime, info.State.LastTime
				}
				if name == names.commands {
					commands = s
				}
			}
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			st.Error = "not found (has a worker provisioned it?)"
		} else if err != nil {
			st.Error = err.Error()
		}
		out.Streams = append(out.Streams, st)
	}
	if commands != nil {
		lister := commands.ListConsumers(ctx)
		for info := range lister.Info() {
			connection, lane, ok := consumerLane(info.Name)
			if !ok {
				continue
			}
			cs := consumerStatus{Name: info.Name, Connection: connection, Lane: lane, Filter: info.Config.FilterSubject,
				Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered, Waiting: info.NumWaiting}
			if info.Paused {
				cs.PausedUntil = time.Now().Add(info.PauseRemaining)
			}
			out.Consumers = append(out.Consumers, cs)
		}
		if err := lister.Err(); err != nil {
			return fmt.Errorf("list consumers: %w", err)
		}
		slices.SortFunc(out.Consumers, func(a, b consumerStatus) int { return strings.Compare(a.Name, b.Name) })
	}
	if err := g.flowStatus(ctx, f, &out); err != nil {
		return err
	}
	if out.Streams[1].Error == "" {
		reader := resultstream.Reader{JetStream: js, Stream: names.results, Subjects: g.subjects()}
		err := reader.Read(ctx, resultstream.Query{Since: time.Now().Add(-window), HeadersOnly: true}, func(it resultstream.Item) error {
			out.Results[string(it.Status)]++
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := g.printStatus(out, window); err != nil {
		return err
	}
	// Missing streams are an error (exit 1), after the status is shown.
	var missing []string
	for _, s := range out.Streams {
		if s.Error != "" {
			missing = append(missing, s.Name+": "+s.Error)
		}
	}
	if len(missing) > 0 {
		return &cli.Error{Exit: exitError, Code: "streams_missing", Err: fmt.Errorf("%s; start a syncworker (it creates the streams) or check --server and --config",
			strings.Join(missing, "; "))}
	}
	return nil
}

// consumerLane reads a worker consumer's name: the connection and lane
// it pulls; ok is false for a consumer that is not a worker's.
func consumerLane(name string) (connection, lane string, ok bool) {
	if c, found := strings.CutPrefix(name, "syncworker_"); found {
		return c, "interactive", true
	}
	if c, found := strings.CutPrefix(name, "syncbulk_"); found {
		return c, "bulk", true
	}
	return "", "", false
}

func (g *globals) printStatus(out statusOutput, window time.Duration) error {
	if g.json() {
		return g.printJSON(out)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tOLDEST\tNEWEST\tCONSUMERS")
	now := time.Now()
	for _, s := range out.Streams {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\n", s.Name, s.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\n", s.Name, s.Messages, humanBytes(s.Bytes), age(now, s.FirstTime), age(now, s.LastTime), s.Consumers)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CONNECTION\tLANE\tCONSUMER\tPENDING\tACK PENDING\tREDELIVERED\tWAITING PULLS\tPAUSED")
	for _, c := range out.Consumers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", c.Connection, c.Lane, c.Name, c.Pending, c.AckPending, c.Redelivered, c.Waiting, until(now, c.PausedUntil))
	}
	if len(out.Consumers) == 0 {
		fmt.Fprintln(tw, "(no worker consumers)\t\t\t\t\t\t")
	}
	fmt.Fprintln(tw)
	if out.FlowSource == "" {
		fmt.Fprintln(tw, "FLOW CONTROL: kept by each worker (no Redis named: --redis-url, $REDIS_URL or the config's redis.url)")
	} else {
		fmt.Fprintf(tw, "CONNECTION\tCIRCUIT\tPROBE AFTER\tPROVIDER WAIT\tRATE LIMIT\t(%s)\n", out.FlowSource)
		for _, f := range out.Flow {
			limit := "-"
			if f.RateLimit > 0 {
				limit = fmt.Sprintf("%g/s burst %d", f.RateLimit, max(f.Burst, 1))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", f.Connection, f.Circuit, until(now, f.ProbeAfter), until(now, f.WaitUntil), limit)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "RESULTS (last %s)\tCOUNT\n", window)
	for _, s := range []messages.Status{messages.StatusApplied, messages.StatusUnchanged, messages.StatusSuperseded, messages.StatusRejected, messages.StatusFailed} {
		fmt.Fprintf(tw, "%s\t%d\n", s, out.Results[string(s)])
	}
	return tw.Flush()
}

// until says how long until t, "-" for none or past.
func until(now, t time.Time) string {
	if !t.After(now) {
		return "-"
	}
	return "in " + t.Sub(now).Round(100*time.Millisecond).String()
}

// flowStatus reads each connection's flow control from the Redis the flags
// or the config name; without one it leaves out.Flow empty.
func (g *globals) flowStatus(ctx context.Context, f *storeFlags, out *statusOutput) error {
	url, prefix := cmp.Or(f.redisURL, g.getenv("REDIS_URL")), f.redisPrefix
	if g.cfg != nil {
		url, prefix = cmp.Or(url, g.cfg.Redis.URL), cmp.Or(prefix, g.cfg.Redis.KeyPrefix)
	}
	if url == "" {
		return nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return usageErr("--redis-url: %w", err)
	}
	client := redis.NewClient(opt)
	defer func() { _ = client.Close() }()
	prefix = cmp.Or(prefix, redisdedup.DefaultPrefix)
	store := redisflow.New(client, prefix)
	names := map[string]bool{}
	for _, c := range out.Consumers {
		names[c.Connection] = true
	}
	if g.cfg != nil {
		for _, n := range g.cfg.ConnectionNames() {
			names[n] = true
		}
	}
	now := time.Now()
	for _, name := range slices.Sorted(maps.Keys(names)) {
		st, err := store.State(ctx, name)
		if err != nil {
			return fmt.Errorf("flow control in Redis at %s: %w", opt.Addr, err)
		}
		s := flow.StatusOf(name, st, flow.Limit{}, now)
		fs := flowStatus{Connection: name, Circuit: s.Circuit, ProbeAfter: s.OpenUntil, WaitUntil: s.WaitUntil}
		if g.cfg != nil {
			if c, ok := g.cfg.Connections[name]; ok {
				fs.RateLimit, fs.Burst = c.RateLimit.PerSecond, c.RateLimit.Burst
			}
		}
		out.Flow = append(out.Flow, fs)
	}
	out.FlowSource = "redis " + opt.Addr + " prefix " + prefix
	return nil
}

// age says how long ago t was, "-" for none.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "now"
	}
	return d.Round(time.Second).String() + " ago"
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
