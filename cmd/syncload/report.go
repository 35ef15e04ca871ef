package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// pipelineResult is what one pipeline's run measured.
type pipelineResult struct {
	pipeline string // "minimal" or "syncworker"
	commands int
	// window is the first result to the last; measured is the number of
	// results in it after the first (commands-1), the divisor of the
	// rate and of every CPU per command.
	window   time.Duration
	measured int
	cpu      cpuSnapshot // CPU used over the window
	peakRSS  int64       // bytes; 0 when unknown
	requests int64       // provider HTTP requests of the whole run
	statuses map[string]int
	// p50, p99 are publish-to-result latencies, set only when the
	// commands were published at a -rate while the pipeline ran.
	p50, p99 time.Duration
}

func (r pipelineResult) rate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.measured) / r.window.Seconds()
}

// perCommand is d per measured command, in microseconds.
func (r pipelineResult) perCommand(d time.Duration) float64 {
	if r.measured <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(r.measured)
}

func formatStatuses(s map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// The targets for syncworker.
const (
	targetRatio   = 0.80 // of the minimal pipeline's throughput
	targetWorker  = 120  // µs of worker CPU per command
	targetRedis   = 15   // µs of Redis CPU per command
	targetNATS    = 50   // µs of NATS CPU per command
	pipelineMin   = "minimal"
	pipelineSyncw = "syncworker"
)

// formatReport is one provider's table: a row per pipeline, then, with
// both pipelines, the throughput and CPU ratios and the targets.
func formatReport(title string, rows []pipelineResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", title)
	fmt.Fprintf(&b, "  %-10s %10s %9s %8s %8s %8s %8s %8s %8s %8s  %s\n",
		"pipeline", "commands/s", "window s", "process", "NATS", "Redis", "sim", "peak RSS", "HTTP", "others", "statuses")
	fmt.Fprintf(&b, "  %-10s %10s %9s %8s %8s %8s %8s %8s %8s %8s\n",
		"", "", "", "µs/cmd", "µs/cmd", "µs/cmd", "µs/cmd", "MiB", "req/cmd", "µs/cmd")
	for _, r := range rows {
		rss := "-"
		if r.peakRSS > 0 {
			rss = fmt.Sprintf("%.1f", float64(r.peakRSS)/(1<<20))
		}
		fmt.Fprintf(&b, "  %-10s %10.0f %9.2f %8.1f %8.1f %8.1f %8.1f %8s %8.2f %8s  %s\n",
			r.pipeline, r.rate(), r.window.Seconds(), r.perCommand(r.cpu.pipeline), r.perCommand(r.cpu.nats),
			r.perCommand(r.cpu.redis), r.perCommand(r.cpu.sim), rss, float64(r.requests)/float64(max(r.commands, 1)),
			fmt.Sprintf("%.1f", r.perCommand(r.cpu.other())),
			formatStatuses(r.statuses))
	}
	for _, r := range rows {
		if r.p50 > 0 {
			fmt.Fprintf(&b, "  %s latency publish→result: p50 %s  p99 %s\n", r.pipeline, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
		}
	}
	var m, s *pipelineResult
	for i := range rows {
		switch rows[i].pipeline {
		case pipelineMin:
			m = &rows[i]
		case pipelineSyncw:
			s = &rows[i]
		}
	}
	if m != nil && s != nil && m.rate() > 0 {
		ratio := s.rate() / m.rate()
		fmt.Fprintf(&b, "  syncworker/minimal throughput: %.0f%%\n", 100*ratio)
		x := func(a, b float64) string {
			if b <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fx", a/b)
		}
		fmt.Fprintf(&b, "  syncworker/minimal CPU per command: process %s, NATS %s, Redis %s, simulator %s\n",
			x(s.perCommand(s.cpu.pipeline), m.perCommand(m.cpu.pipeline)), x(s.perCommand(s.cpu.nats), m.perCommand(m.cpu.nats)),
			x(s.perCommand(s.cpu.redis), m.perCommand(m.cpu.redis)), x(s.perCommand(s.cpu.sim), m.perCommand(m.cpu.sim)))
		mark := func(ok bool) string {
			if ok {
				return "met"
			}
			return "NOT met"
		}
		fmt.Fprintf(&b, "  issue targets for syncworker: throughput >= %.0f%% of minimal %s; worker CPU <= %d µs %s; Redis <= %d µs %s; NATS <= %d µs %s\n",
			100*targetRatio, mark(ratio >= targetRatio),
			targetWorker, mark(s.perCommand(s.cpu.pipeline) <= targetWorker),
			targetRedis, mark(s.perCommand(s.cpu.redis) <= targetRedis),
			targetNATS, mark(s.perCommand(s.cpu.nats) <= targetNATS))
	}
	fmt.Fprintf(&b, "  (process: the pipeline's own; others: the machine's busy CPU beyond the measured processes and syncload, i.e. other users of this machine; Redis and NATS CPU include their other clients')\n")
	return b.String()
}
