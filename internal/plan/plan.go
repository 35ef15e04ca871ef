// Package plan computes what a migration would change, without changing
// anything: each valid line's update is given to its connection's adapter
// Plan (GET requests only), which compares it field by field with what the
// provider holds. Lines are planned independently against the current
// state, as if each were the only one.
package plan

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/commandfile"
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
}

// Counts sum up a plan.
type Counts struct {
	// Lines planned, and fields by state.
	Lines     int `json:"lines"`
	Changed   int `json:"fieldsChanged"`
	Unchanged int `json:"fieldsUnchanged"`
	Unknown   int `json:"fieldsUnknown"`
	// LinesChanging have at least one changed or unknown field;
	// LinesUnchanged have only unchanged fields.
	LinesChanging  int `json:"linesChanging"`
	LinesUnchanged int `json:"linesUnchanged"`
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
	out := make([]Line, len(lines))
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
		g.Go(func() error {
			p, err := cfg.Planner(c.Connection)
			if err != nil {
				out[i].Err, out[i].Unsupported = err, true
				return nil
			}
			lctx, cancel := context.WithTimeout(gctx, cfg.Timeout)
			defer cancel()
			pl, err := p.Plan(lctx, adapters.Update{Resource: c.Resource, Changes: c.Data.Changes, ProviderFields: c.Data.ProviderFields})
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
