// Package plan computes what a migration would change, without changing
// anything: each valid line's update is given to its connection's adapter
// Plan (GET requests only), which compares it field by field with what the
// provider holds. Lines are planned independently against the current
// provider state, as if each were the only one.
//
// Order keys are not independent: with Config.OrderKeys, a line's field is
// skipped, as the worker would skip it, when the resource's stored order key
// for it, or the key of an earlier line of the file on the same resource,
// is higher than the line's own (docs/CONTRACT.md §3). A line's own key is
// its data.sequence, else the time of planning (it is stored later still);
// its stream sequence is taken to come after every stored one, in file
// order, so it wins every tie with a stored key and with earlier lines. A
// line whose every field is skipped is superseded: its provider is not read.
package plan

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/messages"
)

// Planner is what plan needs of an adapter: adapters.Planner.
type Planner interface {
	Plan(ctx context.Context, u adapters.Update) (adapters.Plan, error)
}

// Line is the plan of one line.
type Line struct {
	Number               int
	CommandID            string
	Connection, Resource string
	// Fields is the field-by-field plan; empty when Err is set.
	Fields []adapters.FieldPlan
	// Err says why the line cannot be planned: invalid line, unsupported
	// field, provider refusal (not found, unauthorized), or unreachable.
	Err error
	// Unsupported: the provider has no place for a field of the line, or
	// the adapter cannot plan (Err says which).
	Unsupported bool
	// Skipped are the fields the worker would skip because a higher order
	// key already set them (stored, or an earlier line's), each with the
	// key that wins, in the line's field order. They are not in Fields.
	Skipped []Skipped
	// Superseded: every field would be skipped; Fields is empty and the
	// provider was not read.
	Superseded bool
}

// Skipped is a field a line would not write, and the order key that wins
// it. Line is the number of the earlier line of the file that holds the
// winning key; 0 when the key is stored already.
type Skipped struct {
	Field string
	Key   messages.OrderKey
	Line  int
}

// Counts sum up a plan.
type Counts struct {
	// Lines planned, and fields by state.
	Lines     int `json:"lines"`
	Changed   int `json:"fieldsChanged"`
	Unchanged int `json:"fieldsUnchanged"`
	Unknown   int `json:"fieldsUnknown"`
	// Skipped fields would not be written: a higher order key wins them.
	Skipped int `json:"fieldsSkipped"`
	// LinesChanging have at least one changed or unknown field;
	// LinesUnchanged have only unchanged (or skipped) fields;
	// LinesSuperseded have only skipped fields.
	LinesChanging   int `json:"linesChanging"`
	LinesUnchanged  int `json:"linesUnchanged"`
	LinesSuperseded int `json:"linesSuperseded"`
	// Unsupported lines ask for a field the provider has no place for;
	// Errors could not be planned for another reason (invalid, not found).
	Unsupported int `json:"unsupported"`
	Errors      int `json:"errors"`
}

// Config tunes Run.
type Config struct {
	// Planner returns the planner of a connection, or why there is none.
	Planner func(connection string) (Planner, error)
	// Concurrency bounds the reads in flight. Default 8.
	Concurrency int
	// Timeout bounds one line's reads. Default 30s.
	Timeout time.Duration
	// OrderKeys reads the order keys stored for a resource
	// ("<connection>/<resource>"), as dedup.Store.OrderKeys does. Nil: no
	// field is planned as skipped (the caller should say so).
	OrderKeys func(ctx context.Context, leaseKey string) (map[string]messages.OrderKey, error)
	// Now is the time of planning, the key of lines without data.sequence.
	// Default time.Now.
	Now func() time.Time
}

// Run plans every line of lines (invalid ones come back with their error)
// and returns them in order, with the counts.
func Run(ctx context.Context, cfg Config, lines []commandfile.Line) ([]Line, Counts, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	out := make([]Line, len(lines))
	if err := skipByOrderKeys(ctx, cfg, lines, out); err != nil {
		return out, Counts{}, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Concurrency)
	for i, l := range lines {
		out[i].Number = l.Number
		if l.Err != nil {
			var ae *adapters.Error
			out[i].Err, out[i].Unsupported = l.Err, errors.As(l.Err, &ae) && ae.Kind == adapters.KindUnsupported
			continue
		}
		c := l.Command
		out[i].CommandID, out[i].Connection, out[i].Resource = c.ID, c.Connection, c.Resource
		if out[i].Superseded {
			continue
		}
		update := withoutSkipped(adapters.Update{Resource: c.Resource, Changes: c.Data.Changes, ProviderFields: c.Data.ProviderFields}, out[i].Skipped)
		g.Go(func() error {
			p, err := cfg.Planner(c.Connection)
			if err != nil {
				out[i].Err, out[i].Unsupported = err, true
				return nil
			}
			lctx, cancel := context.WithTimeout(gctx, cfg.Timeout)
			defer cancel()
			pl, err := p.Plan(lctx, update)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				out[i].Err = err
				var ae *adapters.Error
				out[i].Unsupported = errors.As(err, &ae) && ae.Kind == adapters.KindUnsupported
				return nil
			}
			out[i].Fields = pl.Fields
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return out, Counts{}, err
	}
	var n Counts
	for _, l := range out {
		switch {
		case l.Unsupported:
			n.Unsupported++
			continue
		case l.Err != nil:
			n.Errors++
			continue
		}
		n.Lines++
		n.Skipped += len(l.Skipped)
		if l.Superseded {
			n.LinesSuperseded++
			continue
		}
		changing := false
		for _, f := range l.Fields {
			switch f.State {
			case adapters.FieldChanged:
				n.Changed++
				changing = true
			case adapters.FieldUnchanged:
				n.Unchanged++
			default:
				n.Unknown++
				changing = true
			}
		}
		if changing {
			n.LinesChanging++
		} else {
			n.LinesUnchanged++
		}
	}
	return out, n, nil
}

// skipByOrderKeys sets Skipped and Superseded of the valid lines: it reads
// the stored order keys of every resource the lines touch, then walks the
// lines in file order, each raising its resource's keys as the worker
// would once it is applied.
func skipByOrderKeys(ctx context.Context, cfg Config, lines []commandfile.Line, out []Line) error {
	if cfg.OrderKeys == nil {
		return nil
	}
	type winner struct {
		key  messages.OrderKey
		line int
	}
	current := map[string]map[string]winner{} // lease key -> field -> key
	var mu sync.Mutex                         // guards current while reading
	seen := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Concurrency)
	for _, l := range lines {
		if l.Err != nil {
			continue
		}
		lk := l.Command.Connection + "/" + l.Command.Resource
		if seen[lk] {
			continue
		}
		seen[lk] = true
		g.Go(func() error {
			keys, err := cfg.OrderKeys(gctx, lk)
			if err != nil {
				return fmt.Errorf("reading the order keys of %s: %w", lk, err)
			}
			w := make(map[string]winner, len(keys))
			for f, k := range keys {
				w[f] = winner{key: k}
			}
			mu.Lock()
			current[lk] = w
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	now := cfg.Now().UnixMilli()
	for i, l := range lines {
		if l.Err != nil {
			continue
		}
		c := l.Command
		// After every stored sequence, in file order.
		own := messages.OrderKey{Key: now, Seq: math.MaxUint64/2 + uint64(i)}
		if c.Data.Sequence != nil {
			own.Key = *c.Data.Sequence
		}
		keys := current[c.Connection+"/"+c.Resource]
		fields := c.Data.Fields()
		for _, f := range fields {
			if w, ok := keys[f]; ok && w.key.Compare(own) > 0 {
				out[i].Skipped = append(out[i].Skipped, Skipped{Field: f, Key: w.key, Line: w.line})
			}
		}
		out[i].Superseded = len(fields) > 0 && len(out[i].Skipped) == len(fields)
		for _, f := range fields {
			if w, ok := keys[f]; !ok || own.Compare(w.key) > 0 {
				keys[f] = winner{key: own, line: l.Number}
			}
		}
	}
	return nil
}

// withoutSkipped returns u without the skipped fields, as the worker
// applies it.
func withoutSkipped(u adapters.Update, skipped []Skipped) adapters.Update {
	if len(skipped) == 0 {
		return u
	}
	u.ProviderFields = maps.Clone(u.ProviderFields)
	for _, s := range skipped {
		if native, ok := strings.CutPrefix(s.Field, messages.ProviderFieldPrefix); ok {
			delete(u.ProviderFields, native)
			continue
		}
		u.Changes = u.Changes.Without(s.Field)
	}
	return u
}
