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
	round    int    // 1, 2, ... with -rounds; 0 or 1 for one round
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

// measures are the figures a report compares: a pipeline's throughput
// and its CPU per command by process.
type measures struct {
	rate, process, nats, redis, sim float64
}

func (r pipelineResult) measures() measures {
	return measures{rate: r.rate(), process: r.perCommand(r.cpu.pipeline), nats: r.perCommand(r.cpu.nats),
		redis: r.perCommand(r.cpu.redis), sim: r.perCommand(r.cpu.sim)}
}

// medianMeasures is each measure's median over rows (for an even count,
// the mean of the middle two).
func medianMeasures(rows []pipelineResult) measures {
	median := func(f func(measures) float64) float64 {
		v := make([]float64, len(rows))
		for i, r := range rows {
			v[i] = f(r.measures())
		}
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	return measures{
		rate:    median(func(m measures) float64 { return m.rate }),
		process: median(func(m measures) float64 { return m.process }),
		nats:    median(func(m measures) float64 { return m.nats }),
		redis:   median(func(m measures) float64 { return m.redis }),
		sim:     median(func(m measures) float64 { return m.sim }),
	}
}

// formatReport is one provider's table: a row per pipeline run, then, with
// both pipelines, the throughput and CPU ratios and the targets.
// With several rounds (rows of round 2 and more), each row names its round,
// the throughput ratio is given per round (the two pipelines of one round
// ran back to back) with its median, and the CPU ratios and the targets are
// of each measure's median over the rounds.
func formatReport(title string, rows []pipelineResult) string {
	var b strings.Builder
	rounds := 1
	for _, r := range rows {
		rounds = max(rounds, r.round)
	}
	label := func(r pipelineResult) string {
		if rounds > 1 {
			return fmt.Sprintf("%s #%d", r.pipeline, r.round)
		}
		return r.pipeline
	}
	width := 10
	for _, r := range rows {
		width = max(width, len(label(r)))
	}
	fmt.Fprintf(&b, "\n%s\n", title)
	fmt.Fprintf(&b, "  %-*s %10s %9s %8s %8s %8s %8s %8s %8s %8s  %s\n", width,
		"pipeline", "commands/s", "window s", "process", "NATS", "Redis", "sim", "peak RSS", "HTTP", "others", "statuses")
	fmt.Fprintf(&b, "  %-*s %10s %9s %8s %8s %8s %8s %8s %8s %8s\n", width,
		"", "", "", "µs/cmd", "µs/cmd", "µs/cmd", "µs/cmd", "MiB", "req/cmd", "µs/cmd")
	for _, r := range rows {
		rss := "-"
		if r.peakRSS > 0 {
			rss = fmt.Sprintf("%.1f", float64(r.peakRSS)/(1<<20))
		}
		fmt.Fprintf(&b, "  %-*s %10.0f %9.2f %8.1f %8.1f %8.1f %8.1f %8s %8.2f %8s  %s\n", width,
			label(r), r.rate(), r.window.Seconds(), r.perCommand(r.cpu.pipeline), r.perCommand(r.cpu.nats),
			r.perCommand(r.cpu.redis), r.perCommand(r.cpu.sim), rss, float64(r.requests)/float64(max(r.commands, 1)),
			fmt.Sprintf("%.1f", r.perCommand(r.cpu.other())),
			formatStatuses(r.statuses))
	}
	for _, r := range rows {
		if r.p50 > 0 {
			fmt.Fprintf(&b, "  %s latency publish→result: p50 %s  p99 %s\n", label(r), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
		}
	}
	var mins, syncs []pipelineResult
	for _, r := range rows {
		switch r.pipeline {
		case pipelineMin:
			mins = append(mins, r)
		case pipelineSyncw:
			syncs = append(syncs, r)
		}
	}
	if len(mins) > 0 && len(syncs) > 0 {
		m, s := medianMeasures(mins), medianMeasures(syncs)
		ratio := 0.0
		if m.rate > 0 {
			ratio = s.rate / m.rate
		}
		of := ""
		if rounds > 1 {
			// Each round's ratio, of the two pipelines that ran back to back.
			var byRound []string
			var ratios []float64
			for round := 1; round <= rounds; round++ {
				var rm, rs float64
				for _, r := range rows {
					switch {
					case r.round != round:
					case r.pipeline == pipelineMin:
						rm = r.rate()
					case r.pipeline == pipelineSyncw:
						rs = r.rate()
					}
				}
				if rm > 0 {
					byRound = append(byRound, fmt.Sprintf("%.0f%%", 100*rs/rm))
					ratios = append(ratios, rs/rm)
				}
			}
			slices.Sort(ratios)
			if n := len(ratios); n > 0 {
				ratio = ratios[n/2]
				if n%2 == 0 {
					ratio = (ratios[n/2-1] + ratios[n/2]) / 2
				}
			}
			fmt.Fprintf(&b, "  syncworker/minimal throughput by round: %s; median %.0f%%\n", strings.Join(byRound, ", "), 100*ratio)
			of = fmt.Sprintf(" (medians over %d rounds)", rounds)
		} else {
			fmt.Fprintf(&b, "  syncworker/minimal throughput: %.0f%%\n", 100*ratio)
		}
		x := func(a, b float64) string {
			if b <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fx", a/b)
		}
		fmt.Fprintf(&b, "  syncworker/minimal CPU per command%s: process %s, NATS %s, Redis %s, simulator %s\n", of,
			x(s.process, m.process), x(s.nats, m.nats), x(s.redis, m.redis), x(s.sim, m.sim))
		mark := func(ok bool) string {
			if ok {
				return "met"
			}
			return "NOT met"
		}
		fmt.Fprintf(&b, "  issue targets for syncworker%s: throughput >= %.0f%% of minimal %s; worker CPU <= %d µs %s; Redis <= %d µs %s; NATS <= %d µs %s\n", of,
			100*targetRatio, mark(ratio >= targetRatio),
			targetWorker, mark(s.process <= targetWorker),
			targetRedis, mark(s.redis <= targetRedis),
			targetNATS, mark(s.nats <= targetNATS))
	}
	fmt.Fprintf(&b, "  (process: the pipeline's own; others: the machine's busy CPU beyond the measured processes and syncload, i.e. other users of this machine; Redis and NATS CPU include their other clients')\n")
	return b.String()
}
