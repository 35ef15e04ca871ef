package plan_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/plan"
	"github.com/oauthsync/oauthsync/messages"
)

// answer is what the fake planner answers for a resource.
type answer struct {
	fields []adapters.FieldState
	err    error
}

// fakePlanner plans from answers by resource. A resource with a gate
// waits for it to close. It records the calls, and how many ran at once.
type fakePlanner struct {
	answers map[string]answer
	gates   map[string]chan struct{}

	mu       sync.Mutex
	active   int
	max      int
	calls    []string // resources, in call order
	finished []string // resources, in return order
}

func (p *fakePlanner) Plan(ctx context.Context, u adapters.Update) (adapters.Plan, error) {
	p.mu.Lock()
	p.active++
	p.max = max(p.max, p.active)
	p.calls = append(p.calls, u.Resource)
	gate := p.gates[u.Resource]
	if gate == nil {
		gate = p.gates["*"]
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.active--
		p.finished = append(p.finished, u.Resource)
		p.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return adapters.Plan{}, ctx.Err()
		}
	}
	a := p.answers[u.Resource]
	if a.err != nil {
		return adapters.Plan{}, a.err
	}
	var pl adapters.Plan
	for i, s := range a.fields {
		pl.Fields = append(pl.Fields, adapters.FieldPlan{Field: fmt.Sprintf("%s.f%d", u.Resource, i), State: s})
	}
	return pl, nil
}

func (p *fakePlanner) snapshot() (active, maxActive int, calls, finished []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active, p.max, slices.Clone(p.calls), slices.Clone(p.finished)
}

// line is a valid line numbered n for conn/res.
func line(t *testing.T, n int, conn, res string) commandfile.Line {
	t.Helper()
	sf := commandfile.ShortForm{ID: fmt.Sprintf("plan:%d", n), Connection: conn, Resource: res,
		Changes: []byte(`{"redirectUri":"https://app.example.com/cb","active":true}`)}
	cmd, err := commandfile.Options{Batch: "plan", Decode: messages.DecodeOptions{}}.Build(n, nil, sf)
	if err != nil {
		t.Fatal(err)
	}
	body, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return commandfile.Line{Number: n, Command: cmd, Body: body}
}

func planners(p plan.Planner) func(string) (plan.Planner, error) {
	return func(conn string) (plan.Planner, error) {
		if conn != "rc" {
			return nil, fmt.Errorf("connection %q: its provider cannot plan", conn)
		}
		return p, nil
	}
}

func TestRunCountsAndKeepsEveryLineInOrder(t *testing.T) {
	c, u, k := adapters.FieldChanged, adapters.FieldUnchanged, adapters.FieldUnknown
	notFound := &adapters.Error{Kind: adapters.KindNotFound, Message: "no such app"}
	unsupported := adapters.Unsupported("rocketchat", "clientSecret")
	unreachable := errors.New("dial tcp: connection refused")
	p := &fakePlanner{answers: map[string]answer{
		"r1": {fields: []adapters.FieldState{c, u}},
		"r2": {fields: []adapters.FieldState{u, u}},
		"r3": {fields: []adapters.FieldState{k}},
		"r6": {err: fmt.Errorf("plan: %w", unsupported)},
		"r7": {err: notFound},
		"r8": {err: unreachable},
	}}
	invalid := &commandfile.LineError{Line: 4, Field: "resource", Reason: "must match [A-Za-z0-9_-]{1,128}"}
	invalidUnsupported := &commandfile.LineError{Line: 5, Reason: "unsupported", Err: adapters.Unsupported("reelevant", "redirectUri")}
	lines := []commandfile.Line{
		line(t, 1, "rc", "r1"),
		line(t, 2, "rc", "r2"),
		line(t, 3, "rc", "r3"),
		{Number: 4, Err: invalid},
		{Number: 5, Err: invalidUnsupported},
		line(t, 6, "rc", "r6"),
		line(t, 7, "rc", "r7"),
		line(t, 8, "rc", "r8"),
		line(t, 10, "nope", "r9"),
	}
	out, n, err := plan.Run(context.Background(), plan.Config{Planner: planners(p), Concurrency: 2}, lines)
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Counts{Lines: 3, Changed: 1, Unchanged: 3, Unknown: 1, LinesChanging: 2, LinesUnchanged: 1, Unsupported: 3, Errors: 3}
	if n != want {
		t.Errorf("counts\n got %+v\nwant %+v", n, want)
	}
	if len(out) != len(lines) {
		t.Fatalf("%d lines out of %d", len(out), len(lines))
	}
	for i, l := range out {
		in := lines[i]
		if l.Number != in.Number {
			t.Errorf("out[%d] is line %d, want %d", i, l.Number, in.Number)
		}
		if in.Command != nil && (l.CommandID != in.Command.ID || l.Connection != in.Command.Connection || l.Resource != in.Command.Resource) {
			t.Errorf("out[%d]: %s %s/%s, want %s %s/%s", i, l.CommandID, l.Connection, l.Resource, in.Command.ID, in.Command.Connection, in.Command.Resource)
		}
	}
	for _, tc := range []struct {
		i           int
		fields      int
		err         error // errors.Is target; nil: no error
		unsupported bool
	}{
		{0, 2, nil, false}, {1, 2, nil, false}, {2, 1, nil, false},
		{3, 0, invalid, false}, {4, 0, invalidUnsupported, true},
		{5, 0, unsupported, true}, {6, 0, notFound, false}, {7, 0, unreachable, false},
		{8, 0, nil, true},
	} {
		l := out[tc.i]
		if len(l.Fields) != tc.fields || l.Unsupported != tc.unsupported {
			t.Errorf("line %d: %d fields, unsupported %v; want %d, %v", l.Number, len(l.Fields), l.Unsupported, tc.fields, tc.unsupported)
		}
		switch {
		case tc.err != nil && !errors.Is(l.Err, tc.err):
			t.Errorf("line %d: err %v, want %v", l.Number, l.Err, tc.err)
		case tc.err == nil && tc.i < 3 && l.Err != nil:
			t.Errorf("line %d: err %v", l.Number, l.Err)
		}
	}
	if got := out[8].Err; got == nil || got.Error() != `connection "nope": its provider cannot plan` {
		t.Errorf("line without a planner: err %v", got)
	}
	if f := out[0].Fields; f[0].Field != "r1.f0" || f[0].State != c || f[1].State != u {
		t.Errorf("line 1's fields: %+v", f)
	}
	// Invalid lines and lines without a planner are never planned.
	_, _, calls, _ := p.snapshot()
	slices.Sort(calls)
	if want := []string{"r1", "r2", "r3", "r6", "r7", "r8"}; !slices.Equal(calls, want) {
		t.Errorf("planned %v, want %v", calls, want)
	}
}

func TestRunUpdateCarriesTheCommand(t *testing.T) {
	var got adapters.Update
	p := plannerFunc(func(_ context.Context, u adapters.Update) (adapters.Plan, error) {
		got = u
		return adapters.Plan{}, nil
	})
	l := line(t, 1, "rc", "65a7d77142a7e12453052d59")
	if _, _, err := plan.Run(context.Background(), plan.Config{Planner: planners(p)}, []commandfile.Line{l}); err != nil {
		t.Fatal(err)
	}
	if got.Resource != "65a7d77142a7e12453052d59" || got.Changes.RedirectURI == nil || *got.Changes.RedirectURI != "https://app.example.com/cb" ||
		got.Changes.Active == nil || !*got.Changes.Active {
		t.Errorf("update %+v", got)
	}
}

type plannerFunc func(context.Context, adapters.Update) (adapters.Plan, error)

func (f plannerFunc) Plan(ctx context.Context, u adapters.Update) (adapters.Plan, error) {
	return f(ctx, u)
}

func TestRunRespectsConcurrency(t *testing.T) {
	for _, tc := range []struct {
		concurrency, want, lines int
	}{
		{3, 3, 10},
		{1, 1, 4},
		{0, 8, 20}, // the default
	} {
		t.Run(fmt.Sprint(tc.concurrency), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				p := &fakePlanner{answers: map[string]answer{}, gates: map[string]chan struct{}{"*": release}}
				var lines []commandfile.Line
				for i := range tc.lines {
					res := fmt.Sprintf("r%d", i)
					p.answers[res] = answer{fields: []adapters.FieldState{adapters.FieldChanged}}
					lines = append(lines, line(t, i+1, "rc", res))
				}
				type result struct {
					out []plan.Line
					n   plan.Counts
					err error
				}
				done := make(chan result, 1)
				go func() {
					out, n, err := plan.Run(context.Background(), plan.Config{Planner: planners(p), Concurrency: tc.concurrency, Timeout: time.Hour}, lines)
					done <- result{out, n, err}
				}()
				synctest.Wait() // every Plan call that can start has started and waits
				active, _, calls, _ := p.snapshot()
				if active != tc.want || len(calls) != tc.want {
					t.Errorf("%d calls in flight (%d started), want %d", active, len(calls), tc.want)
				}
				close(release)
				r := <-done
				if r.err != nil {
					t.Fatal(r.err)
				}
				_, maxActive, calls, _ := p.snapshot()
				if maxActive != tc.want || len(calls) != tc.lines {
					t.Errorf("at most %d at once over %d calls, want %d over %d", maxActive, len(calls), tc.want, tc.lines)
				}
				if r.n.Lines != tc.lines || r.n.Changed != tc.lines || r.n.Errors != 0 {
					t.Errorf("counts %+v", r.n)
				}
			})
		})
	}
}

func TestRunOutputIsInInputOrderWhateverTheCompletionOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 6
		p := &fakePlanner{answers: map[string]answer{}, gates: map[string]chan struct{}{}}
		var lines []commandfile.Line
		for i := range n {
			res := fmt.Sprintf("r%d", i)
			p.gates[res] = make(chan struct{})
			p.answers[res] = answer{fields: slices.Repeat([]adapters.FieldState{adapters.FieldUnchanged}, i+1)}
			lines = append(lines, line(t, 2*i+1, "rc", res))
		}
		done := make(chan []plan.Line, 1)
		go func() {
			out, _, err := plan.Run(context.Background(), plan.Config{Planner: planners(p), Concurrency: n}, lines)
			if err != nil {
				t.Error(err)
			}
			done <- out
		}()
		// Let the lines finish last first.
		var wantFinished []string
		for i := n - 1; i >= 0; i-- {
			synctest.Wait()
			res := fmt.Sprintf("r%d", i)
			close(p.gates[res])
			wantFinished = append(wantFinished, res)
		}
		out := <-done
		if _, _, _, finished := p.snapshot(); !slices.Equal(finished, wantFinished) {
			t.Fatalf("finished %v, want %v", finished, wantFinished)
		}
		for i, l := range out {
			if l.Number != 2*i+1 || l.Resource != fmt.Sprintf("r%d", i) || len(l.Fields) != i+1 {
				t.Errorf("out[%d] = line %d %s with %d fields", i, l.Number, l.Resource, len(l.Fields))
			}
		}
	})
}

func TestRunCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakePlanner{answers: map[string]answer{}, gates: map[string]chan struct{}{"*": make(chan struct{})}}
		lines := []commandfile.Line{line(t, 1, "rc", "r1"), line(t, 2, "rc", "r2")}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, _, err := plan.Run(ctx, plan.Config{Planner: planners(p)}, lines)
			done <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func TestRunTimeoutBoundsEachLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakePlanner{answers: map[string]answer{"r2": {fields: []adapters.FieldState{adapters.FieldChanged}}},
			gates: map[string]chan struct{}{"r1": make(chan struct{})}}
		lines := []commandfile.Line{line(t, 1, "rc", "r1"), line(t, 2, "rc", "r2")}
		out, n, err := plan.Run(context.Background(), plan.Config{Planner: planners(p), Timeout: time.Minute}, lines)
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(out[0].Err, context.DeadlineExceeded) || out[0].Unsupported || out[1].Err != nil {
			t.Errorf("line 1 err %v, line 2 err %v", out[0].Err, out[1].Err)
		}
		if n.Errors != 1 || n.Lines != 1 {
			t.Errorf("counts %+v", n)
		}
	})
}
