package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

const (
	dashboardFile = "grafana/syncworker-dashboard.json"
	alertsFile    = "prometheus/alerts.yaml"
)

// The dashboard's shape: what the test reads of Grafana's JSON model.
type (
	dashboard struct {
		UID           string  `json:"uid"`
		Title         string  `json:"title"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
		Templating    struct {
			List []templateVar `json:"list"`
		} `json:"templating"`
	}
	panel struct {
		ID         int                      `json:"id"`
		Type       string                   `json:"type"`
		Title      string                   `json:"title"`
		Datasource *datasource              `json:"datasource"`
		GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
		Targets    []struct {
			Datasource *datasource `json:"datasource"`
			Expr       string      `json:"expr"`
			RefID      string      `json:"refId"`
		} `json:"targets"`
		FieldConfig struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
	}
	datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	templateVar struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Query      json.RawMessage `json:"query"`
		Definition string          `json:"definition"`
		Datasource *datasource     `json:"datasource"`
	}
)

func TestDashboard(t *testing.T) {
	ms, vals, p := loadMetrics(t), labelValues(t), parser.NewParser(parser.Options{})
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q title %q schemaVersion %d panels %d", d.UID, d.Title, d.SchemaVersion, len(d.Panels))
	}

	// Template variables: a Prometheus data source chooser, and a
	// connection chooser over a contract metric's label.
	vars := map[string]templateVar{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("no datasource variable of type prometheus: %+v", v)
	}
	labelValuesQuery := regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesQuery.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, v.Definition)
			continue
		}
		if _, ls, ok := series(ms, m[1]); !ok || !slices.Contains(ls, m[2]) {
			t.Errorf("variable %s: %s{%s} is not in METRICS.md", v.Name, m[1], m[2])
		}
	}

	used := map[string]bool{}
	ids := map[int]bool{}
	varRef := regexp.MustCompile(`\$\{?(\w+)`)
	type rect struct{ x0, y0, x1, y1 int }
	var rects []rect
	var rectTitles []string
	for _, pn := range d.Panels {
		if ids[pn.ID] {
			t.Errorf("panel id %d used twice", pn.ID)
		}
		ids[pn.ID] = true
		g := pn.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", pn.Title, g)
		}
		r := rect{g.X, g.Y, g.X + g.W, g.Y + g.H}
		for i, o := range rects {
			if r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1 {
				t.Errorf("panels %q and %q overlap", pn.Title, rectTitles[i])
			}
		}
		rects, rectTitles = append(rects, r), append(rectTitles, pn.Title)
		if pn.Type == "row" {
			continue
		}
		if pn.Title == "" || pn.Datasource == nil || pn.Datasource.UID != "${datasource}" || len(pn.Targets) == 0 {
			t.Errorf("panel %d %q: needs a title, the ${datasource} data source and targets", pn.ID, pn.Title)
		}
		if pn.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q: no unit", pn.Title)
		}
		refs := map[string]bool{}
		for _, tg := range pn.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q missing or repeated", pn.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q %s: target not on the ${datasource} data source", pn.Title, tg.RefID)
			}
			for _, m := range varRef.FindAllStringSubmatch(tg.Expr, -1) {
				if _, ok := vars[m[1]]; !ok && !strings.HasPrefix(m[1], "__") {
					t.Errorf("panel %q: $%s is not a template variable", pn.Title, m[1])
				}
			}
			expr := grafanaVars.Replace(tg.Expr)
			rep, errs := checkPromQL(ms, vals, p, expr)
			for _, err := range errs {
				t.Errorf("panel %q %s: %s: %v", pn.Title, tg.RefID, tg.Expr, err)
			}
			for _, m := range rep.metrics {
				used[m] = true
			}
		}
	}
	for name := range ms {
		if !used[name] {
			t.Errorf("METRICS.md's %s is on no panel", name)
		}
	}
}

// alertNames are the alerts issue 4 asks for, with the one that tells when
// no worker reports at all.
var alertNames = []string{
	"OAuthSyncDeadLettersGrowing",
	"OAuthSyncCircuitOpen",
	"OAuthSyncConsumerLagGrowing",
	"OAuthSyncProviderErrorRateHigh",
	"OAuthSyncNoResultsWhileCommandsPend",
	"OAuthSyncWorkerMetricsAbsent",
	"OAuthSyncDedupStoreLost",
}

// loadAlerts parses the rules with Prometheus's own rulefmt: unknown fields
// refused, every expression parsed, every template checked.
func loadAlerts(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, parser.NewParser(parser.Options{}),
		slog.New(slog.NewTextHandler(t.Output(), nil)))
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	return groups
}

func TestAlertRules(t *testing.T) {
	ms, vals, p := loadMetrics(t), labelValues(t), parser.NewParser(parser.Options{})
	groups := loadAlerts(t)
	var names []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a recording rule %q; this file holds alerts only", g.Name, r.Record)
				continue
			}
			names = append(names, r.Alert)
			if r.For <= 0 {
				t.Errorf("%s: no for:", r.Alert)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			_, errs := checkPromQL(ms, vals, p, r.Expr)
			for _, err := range errs {
				t.Errorf("%s: %v", r.Alert, err)
			}
		}
	}
	for _, want := range alertNames {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s", want)
		}
	}
	slices.Sort(names)
	if len(slices.Compact(names)) != len(names) {
		t.Errorf("an alert name is used twice: %v", names)
	}
}

// TestAlertRulesFire evaluates each alert's expression over made-up series
// with Prometheus's engine: it fires when the condition holds and stays
// quiet otherwise (`for:` is the rule manager's, not tested here).
func TestAlertRulesFire(t *testing.T) {
	exprs := map[string]string{}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}
	// Series of one worker scraped every minute for an hour ("load 1m").
	const w = `job="syncworker", instance="w1:9090"`
	cases := []struct {
		alert  string
		series string
		fires  []string // connection (or code) values firing at the end; empty: quiet
	}{
		{"OAuthSyncDeadLettersGrowing", fmt.Sprintf(`
			oauthsync_dead_letters_total{%s, connection="rc-prod", code="timeout"} 0x50 1 2 3 4 5 6 7 8 9 10
			oauthsync_dead_letters_total{%s, connection="jf-prod", code="rate_limited"} 3x60`, w, w),
			[]string{"rc-prod"}},
		{"OAuthSyncCircuitOpen", fmt.Sprintf(`
			oauthsync_circuit_state{%[1]s, connection="rc-prod"} 0x50 2x10
			oauthsync_circuit_state{%[1]s, connection="jf-prod"} 0x50 1x10
			oauthsync_circuit_state{%[1]s, connection="hdp-prod"} 2x30 0x30`, w),
			[]string{"jf-prod", "rc-prod"}}, // hdp-prod's closed again
		{"OAuthSyncConsumerLagGrowing", fmt.Sprintf(`
			oauthsync_consumer_pending{%s, connection="rc-prod"} 0+20x60
			oauthsync_consumer_pending{%s, connection="jf-prod"} 5000x60
			oauthsync_consumer_pending{%s, connection="hdp-prod"} 0+1x60
			oauthsync_consumer_pending{%s, connection="mig-prod", lane="interactive"} 0x60
			oauthsync_consumer_pending{%s, connection="mig-prod", lane="bulk"} 0+20x60`, w, w, w, w, w),
			[]string{"mig-prod", "rc-prod"}}, // a growing bulk lane beside an idle interactive one
		{"OAuthSyncProviderErrorRateHigh", fmt.Sprintf(`
			oauthsync_provider_requests_total{%s, connection="rc-prod", provider="rocketchat", status_class="2xx"} 0+60x60
			oauthsync_provider_requests_total{%s, connection="rc-prod", provider="rocketchat", status_class="5xx"} 0+30x60
			oauthsync_provider_requests_total{%s, connection="jf-prod", provider="jframework", status_class="2xx"} 0+600x60
			oauthsync_provider_requests_total{%s, connection="jf-prod", provider="jframework", status_class="error"} 0+6x60
			oauthsync_provider_requests_total{%s, connection="hdp-prod", provider="hybriddatapipeline", status_class="5xx"} 0+1x60`, w, w, w, w, w),
			[]string{"rc-prod"}}, // jf-prod fails 1%; hdp-prod fails all of 1 request a minute: under the traffic floor
		{"OAuthSyncNoResultsWhileCommandsPend", fmt.Sprintf(`
			oauthsync_consumer_pending{%[1]s, connection="rc-prod"} 7x60
			oauthsync_consumer_ack_pending{%[1]s, connection="rc-prod"} 0x60
			oauthsync_commands_total{%[1]s, connection="rc-prod", provider="rocketchat", status="applied"} 12x60
			oauthsync_consumer_pending{%[1]s, connection="new-prod"} 3x60
			oauthsync_consumer_ack_pending{%[1]s, connection="new-prod"} 3x60
			oauthsync_consumer_pending{%[1]s, connection="jf-prod"} 9x60
			oauthsync_consumer_ack_pending{%[1]s, connection="jf-prod"} 8x60
			oauthsync_commands_total{%[1]s, connection="jf-prod", provider="jframework", status="applied"} 0+5x60
			oauthsync_consumer_pending{%[1]s, connection="_unrouted"} 1x60
			oauthsync_consumer_ack_pending{%[1]s, connection="_unrouted"} 0x60
			oauthsync_consumer_pending{%[1]s, connection="hdp-prod"} 0x60
			oauthsync_consumer_ack_pending{%[1]s, connection="hdp-prod"} 0x60`, w),
			// rc-prod: stuck with a counter; new-prod: stuck before its first
			// result (no counter yet); jf-prod works; _unrouted is left out.
			[]string{"new-prod", "rc-prod"}},
		{"OAuthSyncWorkerMetricsAbsent", fmt.Sprintf(`
			oauthsync_commands_in_flight{%s, connection="rc-prod"} 0x60`, w),
			[]string{""}},
		{"OAuthSyncWorkerMetricsAbsent", fmt.Sprintf(`
			oauthsync_consumer_pending{%s, connection="rc-prod"} 0x60`, w),
			nil},
		{"OAuthSyncDedupStoreLost", fmt.Sprintf(`
			oauthsync_dedup_store_lost{%s} 0x50 1x10
			oauthsync_dedup_store_lost{job="syncworker", instance="w2:9090"} 0x60`, w),
			[]string{""}},
		{"OAuthSyncDedupStoreLost", fmt.Sprintf(`
			oauthsync_dedup_store_lost{%s} 0x30 1x10 0x20`, w),
			nil},
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute})
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, c.alert), func(t *testing.T) {
			expr, ok := exprs[c.alert]
			if !ok {
				t.Fatalf("no alert %s", c.alert)
			}
			q, err := engine.NewInstantQuery(t.Context(), loadSeries(t, c.series, time.Minute), nil, expr, time.Unix(0, 0).Add(60*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			res := q.Exec(t.Context())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			vec, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range vec {
				got = append(got, s.Metric.Get("connection"))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.fires) {
				var buf bytes.Buffer
				for _, s := range vec {
					fmt.Fprintf(&buf, "\n  %s => %v", s.Metric, s.F)
				}
				t.Errorf("fires for %q, want %q%s", got, c.fires, buf.String())
			}
		})
	}
}

// memSeries is an in-memory storage.Queryable over series written in
// promtool's notation ("metric{l="v"} 0+20x60"), one sample per step from
// time 0, for evaluating alert expressions with Prometheus's engine.
type memSeries []storage.Series

// loadSeries parses one series per non-blank line.
func loadSeries(t *testing.T, text string, step time.Duration) memSeries {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	var ms memSeries
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		lset, vals, err := p.ParseSeriesDesc(line)
		if err != nil {
			t.Fatalf("series %q: %v", line, err)
		}
		s := promql.Series{Metric: lset}
		for i, v := range vals {
			if !v.Omitted {
				s.Floats = append(s.Floats, promql.FPoint{T: int64(i) * step.Milliseconds(), F: v.Value})
			}
		}
		ms = append(ms, promql.NewStorageSeries(s))
	}
	return ms
}

func (m memSeries) Querier(int64, int64) (storage.Querier, error) { return m, nil }

func (m memSeries) Select(_ context.Context, _ bool, _ *storage.SelectHints, matchers ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, s := range m {
		if slices.IndexFunc(matchers, func(lm *labels.Matcher) bool { return !lm.Matches(s.Labels().Get(lm.Name)) }) < 0 {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &memSeriesSet{series: out, i: -1}
}

func (m memSeries) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (m memSeries) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (m memSeries) Close() error { return nil }

type memSeriesSet struct {
	series []storage.Series
	i      int
}

func (s *memSeriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *memSeriesSet) At() storage.Series                { return s.series[s.i] }
func (s *memSeriesSet) Err() error                        { return nil }
func (s *memSeriesSet) Warnings() annotations.Annotations { return nil }
