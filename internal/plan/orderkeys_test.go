package plan_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/plan"
	"github.com/oauthsync/oauthsync/messages"
)

// fieldPlanner plans every field of an update as changed, and records the
// updates it was asked to plan.
type fieldPlanner struct {
	mu    sync.Mutex
	asked map[string][]string // command resource+fields by line id
}

func (p *fieldPlanner) Plan(_ context.Context, u adapters.Update) (adapters.Plan, error) {
	var pl adapters.Plan
	for _, f := range u.Fields() {
		pl.Fields = append(pl.Fields, adapters.FieldPlan{Field: f, State: adapters.FieldChanged})
	}
	p.mu.Lock()
	p.asked[u.Resource] = append(p.asked[u.Resource], fmt.Sprint(u.Fields()))
	p.mu.Unlock()
	return pl, nil
}

// seqLine is a valid line numbered n for rc/res changing fields (JSON),
// with data.sequence seq when not nil.
func seqLine(t *testing.T, n int, res string, seq *int64, changes string) commandfile.Line {
	t.Helper()
	sf := commandfile.ShortForm{ID: fmt.Sprintf("plan:%d", n), Connection: "rc", Resource: res, Sequence: seq, Changes: []byte(changes)}
	cmd, err := commandfile.Options{Batch: "plan"}.Build(n, nil, sf)
	if err != nil {
		t.Fatal(err)
	}
	return commandfile.Line{Number: n, Command: cmd}
}

func TestRunSkipsFieldsAHigherOrderKeyWins(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	hourAgo := now.Add(-time.Hour).UnixMilli()
	stored := map[string]map[string]messages.OrderKey{
		"rc/A": {"name": {Key: 1000, Seq: 5}, "active": {Key: hourAgo, Seq: 9}},
	}
	var reads []string
	var mu sync.Mutex
	orderKeys := func(_ context.Context, lk string) (map[string]messages.OrderKey, error) {
		mu.Lock()
		reads = append(reads, lk)
		mu.Unlock()
		return stored[lk], nil
	}
	i64 := func(v int64) *int64 { return &v }
	lines := []commandfile.Line{
		seqLine(t, 1, "A", i64(500), `{"name":"n1","redirectUri":"https://1.example.com/cb"}`), // name: stored 1000 wins
		seqLine(t, 2, "A", i64(1000), `{"name":"n2"}`),                                         // a tie: published after, wins
		seqLine(t, 3, "A", i64(999), `{"name":"n3"}`),                                          // line 2's key wins: superseded
		seqLine(t, 4, "A", nil, `{"name":"n4","active":true}`),                                 // now: beats 1000 and an hour ago
		seqLine(t, 5, "B", i64(1), `{"name":"n5"}`),                                            // nothing stored
		seqLine(t, 6, "A", i64(hourAgo), `{"active":false}`),                                   // line 4's "now" wins
		{Number: 7, Err: &commandfile.LineError{Line: 7, Reason: "bad"}},
	}
	p := &fieldPlanner{asked: map[string][]string{}}
	out, n, err := plan.Run(context.Background(), plan.Config{Planner: planners(p), OrderKeys: orderKeys, Now: func() time.Time { return now }}, lines)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		skipped    []plan.Skipped
		superseded bool
		fields     []string
	}
	nowKey := messages.OrderKey{Key: now.UnixMilli(), Seq: math.MaxUint64/2 + 3}
	wants := []want{
		{skipped: []plan.Skipped{{Field: "name", Key: messages.OrderKey{Key: 1000, Seq: 5}}}, fields: []string{"redirectUri"}},
		{fields: []string{"name"}},
		{skipped: []plan.Skipped{{Field: "name", Key: messages.OrderKey{Key: 1000, Seq: math.MaxUint64/2 + 1}, Line: 2}}, superseded: true},
		{fields: []string{"name", "active"}},
		{fields: []string{"name"}},
		{skipped: []plan.Skipped{{Field: "active", Key: nowKey, Line: 4}}, superseded: true},
		{},
	}
	for i, w := range wants {
		l := out[i]
		var fields []string
		for _, f := range l.Fields {
			fields = append(fields, f.Field)
		}
		if !slices.Equal(l.Skipped, w.skipped) || l.Superseded != w.superseded || !slices.Equal(fields, w.fields) {
			t.Errorf("line %d: skipped %+v superseded %t fields %v; want %+v %t %v", l.Number, l.Skipped, l.Superseded, fields, w.skipped, w.superseded, w.fields)
		}
	}
	// A superseded line's provider is never read; a partly skipped one is
	// planned without its skipped fields.
	asked := slices.Sorted(slices.Values(p.asked["A"]))
	if !slices.Equal(asked, []string{"[name active]", "[name]", "[redirectUri]"}) {
		t.Errorf("planner asked for %v, want [name active], [name] and [redirectUri] (line 1 without name)", asked)
	}
	wantCounts := plan.Counts{Lines: 6, Changed: 5, Skipped: 3, LinesChanging: 4, LinesSuperseded: 2, Errors: 1}
	if n != wantCounts {
		t.Errorf("counts\n got %+v\nwant %+v", n, wantCounts)
	}
	slices.Sort(reads)
	if !slices.Equal(reads, []string{"rc/A", "rc/B"}) {
		t.Errorf("order keys read for %v, want each resource once", reads)
	}

	// Without OrderKeys nothing is skipped; a failed read fails the plan.
	out, _, err = plan.Run(context.Background(), plan.Config{Planner: planners(&fieldPlanner{asked: map[string][]string{}})}, lines)
	if err != nil || out[2].Superseded || len(out[0].Skipped) != 0 {
		t.Fatalf("without order keys: %v %+v", err, out[0])
	}
	broken := errors.New("store down")
	_, _, err = plan.Run(context.Background(), plan.Config{Planner: planners(p),
		OrderKeys: func(context.Context, string) (map[string]messages.OrderKey, error) { return nil, broken }}, lines)
	if !errors.Is(err, broken) {
		t.Fatalf("failed order-key read: %v, want it returned", err)
	}
}
