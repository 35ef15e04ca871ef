package deploy

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/oauthsync/oauthsync/messages"
)

// metric is one row of METRICS.md.
type metric struct {
	name, typ string
	labels    []string
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

var (
	metricRow  = regexp.MustCompile("^\\|\\s*`(oauthsync_[a-z0-9_]+)`\\s*\\|\\s*(counter|gauge|histogram)\\s*\\|([^|]*)\\|([^|]*)\\|")
	backticked = regexp.MustCompile("`([^`]+)`")
	parens     = regexp.MustCompile(`\([^)]*\)`)
)

// loadMetrics reads the metric contract. It fails the test when the table
// cannot be read.
func loadMetrics(t *testing.T) map[string]metric {
	t.Helper()
	b, err := os.ReadFile("METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	ms := map[string]metric{}
	for line := range strings.SplitSeq(string(b), "\n") {
		m := metricRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var ls []string
		for _, l := range backticked.FindAllStringSubmatch(parens.ReplaceAllString(m[3], ""), -1) {
			ls = append(ls, l[1])
		}
		ms[m[1]] = metric{name: m[1], typ: m[2], labels: ls}
	}
	if len(ms) < 10 {
		t.Fatalf("METRICS.md: read %d metrics; the table's format changed?", len(ms))
	}
	return ms
}

// labelValues are the values a label may take, where the contract fixes
// them: a matcher on another value can never select anything.
func labelValues(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string][]string{
		"status": {string(messages.StatusApplied), string(messages.StatusUnchanged), string(messages.StatusSuperseded),
			string(messages.StatusRejected), string(messages.StatusFailed)},
		"code": {string(messages.CodeInvalidCommand), string(messages.CodeUnknownConnection), string(messages.CodeUnsupportedField),
			string(messages.CodeIDConflict), string(messages.CodeProviderRejected), string(messages.CodeProviderUnauthorized),
			string(messages.CodeProviderNotFound), string(messages.CodeProviderUnavailable), string(messages.CodeRateLimited),
			string(messages.CodeTimeout), string(messages.CodeInternalError)},
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		m := metricRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		// `operation` (`begin`, `complete`, ...) in the labels column.
		if p := parens.FindString(m[3]); p != "" {
			name := backticked.FindStringSubmatch(m[3])[1]
			for _, v := range backticked.FindAllStringSubmatch(p, -1) {
				vals[name] = append(vals[name], v[1])
			}
		}
		// "by `2xx`, `3xx`, ..." in the meaning column.
		if slices.Contains(backticked.FindAllString(m[3], -1), "`status_class`") {
			for _, v := range backticked.FindAllStringSubmatch(m[4], -1) {
				vals["status_class"] = append(vals["status_class"], v[1])
			}
		}
	}
	if len(vals["operation"]) == 0 || len(vals["status_class"]) == 0 {
		t.Fatalf("METRICS.md: no values found for operation or status_class: %v", vals)
	}
	return vals
}

// series resolves a series name of PromQL to its METRICS.md metric and the
// labels the series has.
func series(ms map[string]metric, name string) (metric, []string, bool) {
	if m, ok := ms[name]; ok && m.typ != "histogram" {
		return m, m.labels, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if m, found := ms[base]; ok && found && m.typ == "histogram" {
			if suffix == "_bucket" {
				return m, append(slices.Clone(m.labels), "le"), true
			}
			return m, m.labels, true
		}
	}
	return metric{}, nil, false
}

// grafanaVars replaces the Grafana variables a dashboard query may hold
// with values PromQL can parse.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
	"$connection", ".*",
)

// promqlReport is what checkPromQL found in one expression.
type promqlReport struct {
	metrics []string // METRICS.md names used
}

// checkPromQL parses expr and checks that every series it selects is in
// METRICS.md, that every label it matches, groups or joins on is one the
// series have, and that matchers on contract-fixed labels name real values.
func checkPromQL(ms map[string]metric, vals map[string][]string, p parser.Parser, expr string) (promqlReport, []error) {
	var rep promqlReport
	var errs []error
	ast, err := p.ParseExpr(expr)
	if err != nil {
		return rep, []error{fmt.Errorf("does not parse: %w", err)}
	}
	// labelsUnder returns the labels of every series selected below n.
	labelsUnder := func(n parser.Node) []string {
		ls := slices.Clone(targetLabels)
		parser.Inspect(n, func(c parser.Node, _ []parser.Node) error {
			if vs, ok := c.(*parser.VectorSelector); ok {
				if _, sl, ok := series(ms, vs.Name); ok {
					ls = append(ls, sl...)
				}
			}
			return nil
		})
		return ls
	}
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			m, sl, ok := series(ms, n.Name)
			if !ok {
				errs = append(errs, fmt.Errorf("series %q is not in METRICS.md", n.Name))
				return nil
			}
			if !slices.Contains(rep.metrics, m.name) {
				rep.metrics = append(rep.metrics, m.name)
			}
			for _, lm := range n.LabelMatchers {
				if lm.Name == model.MetricNameLabel {
					continue
				}
				if !slices.Contains(sl, lm.Name) && !slices.Contains(targetLabels, lm.Name) {
					errs = append(errs, fmt.Errorf("%s has no label %q (METRICS.md: %v)", n.Name, lm.Name, m.labels))
				}
				if allowed, fixed := vals[lm.Name]; fixed {
					for _, v := range matcherValues(lm) {
						if !slices.Contains(allowed, v) {
							errs = append(errs, fmt.Errorf("%s{%s}: %q is not a value of %s (%v)", n.Name, lm, v, lm.Name, allowed))
						}
					}
				}
			}
		case *parser.AggregateExpr:
			have := labelsUnder(n.Expr)
			for _, g := range n.Grouping {
				if !slices.Contains(have, g) {
					errs = append(errs, fmt.Errorf("%s by (%s): no series below has label %q", n.Op, strings.Join(n.Grouping, ", "), g))
				}
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				have := append(labelsUnder(n.LHS), labelsUnder(n.RHS)...)
				for _, l := range n.VectorMatching.MatchingLabels {
					if !slices.Contains(have, l) {
						errs = append(errs, fmt.Errorf("on/ignoring (%s): no series has label %q", strings.Join(n.VectorMatching.MatchingLabels, ", "), l))
					}
				}
			}
		}
		return nil
	})
	return rep, errs
}

// matcherValues lists the literal values a matcher names: its value, or the
// branches of a regexp that is a plain alternation of literals.
func matcherValues(lm *labels.Matcher) []string {
	switch lm.Type {
	case labels.MatchEqual, labels.MatchNotEqual:
		return []string{lm.Value}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$`).MatchString(lm.Value) {
		return nil // a pattern (".*", a variable's value): not checkable
	}
	return strings.Split(lm.Value, "|")
}

func TestMetricsContractReads(t *testing.T) {
	ms := loadMetrics(t)
	for _, want := range []string{"oauthsync_commands_total", "oauthsync_dedup_store_duration_seconds", "oauthsync_consumer_ack_pending"} {
		if _, ok := ms[want]; !ok {
			t.Errorf("METRICS.md: %s not read", want)
		}
	}
	if got := ms["oauthsync_dedup_store_duration_seconds"].labels; !slices.Equal(got, []string{"operation"}) {
		t.Errorf("dedup store labels = %v, want [operation]", got)
	}
	for name, m := range ms {
		for _, l := range m.labels {
			if strings.HasSuffix(l, "_id") || l == "id" || l == "resource" || l == "batch" {
				t.Errorf("%s: label %q would carry an id (METRICS.md promises bounded label sets)", name, l)
			}
		}
	}
	vals := labelValues(t)
	if !slices.Contains(vals["status_class"], "error") || !slices.Contains(vals["operation"], "release") {
		t.Errorf("label values read: %v", vals)
	}
}

// TestCheckPromQLCatches proves the checker refuses what it should.
func TestCheckPromQLCatches(t *testing.T) {
	ms, vals, p := loadMetrics(t), labelValues(t), parser.NewParser(parser.Options{})
	for expr, want := range map[string]string{
		`rate(oauthsync_commands_total[5m])`: "",
		`histogram_quantile(0.9, sum by (le) (rate(oauthsync_dedup_store_duration_seconds_bucket[5m])))`: "",
		`rate(oauthsync_command_total[5m])`:                                        "not in METRICS.md",
		`oauthsync_dedup_store_duration_seconds`:                                   "not in METRICS.md",
		`oauthsync_commands_total{resource="x"}`:                                   `no label "resource"`,
		`sum by (provider) (oauthsync_redeliveries_total)`:                         `no series below has label "provider"`,
		`oauthsync_commands_total{status="done"}`:                                  `"done" is not a value of status`,
		`oauthsync_provider_requests_total{status_class=~"5xx|err"}`:               `"err" is not a value of status_class`,
		`oauthsync_consumer_pending unless on (code) oauthsync_commands_in_flight`: `no series has label "code"`,
		`sum(rate(oauthsync_commands_total[5m])`:                                   "does not parse",
	} {
		_, errs := checkPromQL(ms, vals, p, expr)
		switch {
		case want == "" && len(errs) > 0:
			t.Errorf("%s: unexpected %v", expr, errs)
		case want != "" && (len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), want)):
			t.Errorf("%s: errors %v, want one containing %q", expr, errs, want)
		}
	}
}
