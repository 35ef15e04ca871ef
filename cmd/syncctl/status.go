package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/messages"
)

func newStatus(g *globals) *cobra.Command {
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the streams, the workers' consumers per connection, and recent results by status",
		Long: `status shows the three streams (messages, bytes, age of the oldest message),
the workers' durable consumers on the commands stream, one per connection
(pending, waiting for ack, redelivered), and how many results of each status
were published in the last --window.`,
		Example: `  syncctl status
  syncctl status --window 1h -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.status(ctxOf(cmd), window) },
	}
	cmd.Flags().DurationVar(&window, "window", 15*time.Minute, "count the results of this last period")
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
	Name        string `json:"name"`
	Connection  string `json:"connection"`
	Filter      string `json:"filter"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ackPending"`
	Redelivered int    `json:"redelivered"`
	Waiting     int    `json:"waiting"`
}

type statusOutput struct {
	Streams   []streamStatus   `json:"streams"`
	Consumers []consumerStatus `json:"consumers"`
	Window    string           `json:"window"`
	Results   map[string]int   `json:"results"`
}

func (g *globals) status(ctx context.Context, window time.Duration) error {
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
			if !strings.HasPrefix(info.Name, "syncworker_") {
				continue
			}
			out.Consumers = append(out.Consumers, consumerStatus{Name: info.Name,
				Connection: strings.TrimPrefix(info.Name, "syncworker_"), Filter: info.Config.FilterSubject,
				Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered, Waiting: info.NumWaiting})
		}
		if err := lister.Err(); err != nil {
			return fmt.Errorf("list consumers: %w", err)
		}
		slices.SortFunc(out.Consumers, func(a, b consumerStatus) int { return strings.Compare(a.Name, b.Name) })
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
	fmt.Fprintln(tw, "CONNECTION\tCONSUMER\tPENDING\tACK PENDING\tREDELIVERED\tWAITING PULLS")
	for _, c := range out.Consumers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", c.Connection, c.Name, c.Pending, c.AckPending, c.Redelivered, c.Waiting)
	}
	if len(out.Consumers) == 0 {
		fmt.Fprintln(tw, "(no worker consumers)\t\t\t\t\t")
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "RESULTS (last %s)\tCOUNT\n", window)
	for _, s := range []messages.Status{messages.StatusApplied, messages.StatusUnchanged, messages.StatusSuperseded, messages.StatusRejected, messages.StatusFailed} {
		fmt.Fprintf(tw, "%s\t%d\n", s, out.Results[string(s)])
	}
	return tw.Flush()
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
