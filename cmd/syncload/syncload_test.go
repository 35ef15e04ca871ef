package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and parentheses; utime 150, stime 50 ticks.
	stat := "2972 (nats (x) server) S 1 2972 2972 0 -1 4194560 1234 0 0 0 150 50 0 0 20 0 12 0 1000 123456 789 18446744073709551615\n"
	got, err := parseProcStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * time.Second; got != want {
		t.Errorf("parseProcStat = %s, want %s", got, want)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 u v"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
}

func TestListenInodes(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:107E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7347 1 0000000000000000 100 0 0 10 0
   1: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6161 1 0000000000000000 100 0 0 10 0
   2: 0100007F:107E 0100007F:D3C2 01 00000000:00000000 00:00000000 00000000     0        0 9999 1 0000000000000000 20 4 30 10 -1
`
	got := listenInodes(table, 4222)
	if len(got) != 1 || got[0] != "7347" {
		t.Errorf("listenInodes(4222) = %v, want [7347] (the established socket is not a listener)", got)
	}
	if got := listenInodes(table, 5000); len(got) != 0 {
		t.Errorf("listenInodes(5000) = %v, want none", got)
	}
	if got := listenInodes(table, 6379); len(got) != 1 || got[0] != "6161" {
		t.Errorf("listenInodes(6379) = %v, want [6161]", got)
	}
	tcp6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000000000000000000001000000:107E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n"
	if got := listenInodes(tcp6, 4222); len(got) != 1 || got[0] != "4242" {
		t.Errorf("listenInodes(tcp6, 4222) = %v, want [4242]", got)
	}
}

func TestParseRedisCPU(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500000\r\nused_cpu_sys_children:9.000000\r\nused_cpu_user_children:9.000000\r\nused_cpu_sys_main_thread:1.000000\r\n"
	got, err := parseRedisCPU(info)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3750 * time.Millisecond; got != want {
		t.Errorf("parseRedisCPU = %s, want %s (children and main thread not added)", got, want)
	}
	if _, err := parseRedisCPU("# CPU\r\nused_cpu_sys:1.0\r\n"); err == nil {
		t.Error("parseRedisCPU without used_cpu_user: no error")
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 10 50 9000 500 5 20 15 7 0\ncpu0 50 5 25 4500 250 2 10 7 3 0\n"
	got, err := parseMachineCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * time.Second; got != want { // 200 ticks: idle, iowait and guest left out
		t.Errorf("parseMachineCPU = %s, want %s", got, want)
	}
	if _, err := parseMachineCPU("intr 1 2 3\n"); err == nil {
		t.Error("parseMachineCPU without the cpu line: no error")
	}
}

func TestFormatReport(t *testing.T) {
	rows := []pipelineResult{
		{pipeline: pipelineMin, commands: 1001, measured: 1000, window: time.Second, peakRSS: 20 << 20, requests: 1001,
			cpu: cpuSnapshot{pipeline: 100 * time.Millisecond, nats: 40 * time.Millisecond, redis: 6 * time.Millisecond, sim: 30 * time.Millisecond,
				self: 4 * time.Millisecond, machine: 190 * time.Millisecond},
			statuses: map[string]int{"applied": 1001}},
		{pipeline: pipelineSyncw, commands: 1001, measured: 1000, window: 4 * time.Second, peakRSS: 50 << 20, requests: 2002,
			cpu:      cpuSnapshot{pipeline: 500 * time.Millisecond, nats: 80 * time.Millisecond, redis: 12 * time.Millisecond, sim: 30 * time.Millisecond},
			statuses: map[string]int{"failed": 1, "applied": 1000}},
	}
	out := formatReport("reelevant: test", rows)
	wantLines(t, out,
		"reelevant: test",
		"  minimal          1000      1.00    100.0     40.0      6.0     30.0     20.0     1.00     10.0  applied=1001",
		"  syncworker        250      4.00    500.0     80.0     12.0     30.0     50.0     2.00      0.0  applied=1000 failed=1",
		"syncworker/minimal throughput: 25%",
		"process 5.00x, NATS 2.00x, Redis 2.00x, simulator 1.00x",
		"throughput >= 80% of minimal NOT met; worker CPU <= 120 µs NOT met; Redis <= 15 µs met; NATS <= 50 µs NOT met")
	// One pipeline alone: its row, no ratio.
	if out := formatReport("t", rows[:1]); strings.Contains(out, "throughput:") {
		t.Errorf("a report of one pipeline has a ratio:\n%s", out)
	}
}

func TestStreamConfigs(t *testing.T) {
	sc := streamConfigs("p", [3]string{"C", "R", "D"})
	if len(sc) != 3 || sc[0].Subjects[0] != "p.commands.>" || sc[1].Subjects[0] != "p.results.>" || sc[2].Subjects[0] != "p.deadletter.>" {
		t.Fatalf("streamConfigs = %+v", sc)
	}
	if sc[0].MaxMsgSize != 80<<10 || sc[1].MaxMsgSize != 84<<10 || sc[0].Discard == sc[1].Discard {
		t.Errorf("max message sizes %d, %d and discard policies %v, %v: want 80 KiB with discard new, 84 KiB with discard old",
			sc[0].MaxMsgSize, sc[1].MaxMsgSize, sc[0].Discard, sc[1].Discard)
	}
}

// With -rounds, each row names its round, each round's ratio is of the two
// pipelines that ran back to back, and the summary is of medians: one
// round on a slow moment (the third) moves neither.
func TestFormatReportOfRounds(t *testing.T) {
	row := func(pipeline string, round int, window time.Duration, process time.Duration) pipelineResult {
		return pipelineResult{pipeline: pipeline, round: round, commands: 1001, measured: 1000, window: window,
			cpu: cpuSnapshot{pipeline: process, nats: 50 * time.Millisecond, redis: 10 * time.Millisecond}}
	}
	rows := []pipelineResult{
		row(pipelineMin, 1, time.Second, 100*time.Millisecond), row(pipelineSyncw, 1, 2*time.Second, 200*time.Millisecond),
		row(pipelineMin, 2, time.Second, 110*time.Millisecond), row(pipelineSyncw, 2, 1200*time.Millisecond, 150*time.Millisecond),
		row(pipelineMin, 3, 4*time.Second, 400*time.Millisecond), row(pipelineSyncw, 3, 4800*time.Millisecond, 900*time.Millisecond),
	}
	wantLines(t, formatReport("reelevant: rounds", rows),
		"  minimal #1          1000",
		"  syncworker #3        208",
		"syncworker/minimal throughput by round: 50%, 83%, 83%; median 83%",
		// Medians: minimal 110 µs, syncworker 200 µs of process CPU.
		"syncworker/minimal CPU per command (medians over 3 rounds): process 1.82x, NATS 1.00x, Redis 1.00x",
		"issue targets for syncworker (medians over 3 rounds): throughput >= 80% of minimal met; worker CPU <= 120 µs NOT met")
}

// wantLines requires every one of wants in a report.
func wantLines(t *testing.T, report string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}
