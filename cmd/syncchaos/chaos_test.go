package main

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/internal/serverproc"
	"github.com/oauthsync/oauthsync/internal/testenv"
)

// TestMain lets the test binary stand in for syncchaos as the nats-server
// child process the run starts (and kills).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "nats-server" {
		if err := serverproc.NATSServerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nats-server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestChaosSmall runs the whole machinery at small scale: 2 workers, at
// least one SIGKILL, one NATS restart, one Redis restart with its AOF, then
// Redis emptied; 1,500 commands with 30% provider faults and 2% lost
// answers. It asserts the run happened and was checked (the counts), and
// a PASS: every property held.
func TestChaosSmall(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is needed on PATH:", err)
	}
	o := options{
		providers: providerNames,
		workers:   2, commands: 1500, resources: 60, rate: 60,
		seqJitter: 3 * time.Second, seqFraction: 0.5, dupFraction: 0.03, reuseFraction: 0.01,
		faultRate: 0.30, lostRate: 0.02,
		killMin: 8 * time.Second, killMax: 14 * time.Second, minKills: 1,
		natsRestarts: 1, redisRestarts: 1, redisEmpty: true, emptyWatch: 8 * time.Second,
		dupWindow: 5 * time.Second, ackWait: 6 * time.Second, leaseTTL: 3 * time.Second,
		maxInFlight: 16, settle: 2 * time.Minute, maxRSSMiB: 256,
		// 30% faults open a circuit now and then (a provider failing
		// half its calls in a window); its open period scales with the
		// ack wait like the rest, or one trip whose probe fails takes
		// most of the settle time (a CI run stalled 87s on 30s ones).
		circuitOpenFor: 5 * time.Second,
		buildFlags:     testenv.GoBuildFlags(),
		dir:            t.TempDir(),
	}
	if testenv.Race {
		// The race detector multiplies a process's memory by 5 to 10.
		o.maxRSSMiB *= 8
	}
	rep, err := run(t.Context(), o, t.Output())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if !rep.Pass() {
		t.Log("violations:\n" + rep.Details())
	}

	counts := map[string]int{}
	for _, c := range rep.Counts {
		counts[c.Name] = c.N
	}
	for name, least := range map[string]int{"ids": o.commands, "results": o.commands, "writes": o.commands / 2,
		"kills": 1, "NATS restarts": 1, "Redis restarts": 1, "Redis emptied": 1, "final fields": o.resources,
		"provider faults": 1, "KiB scanned for secrets": 1, "planted violations caught": len(plantKinds)} {
		if counts[name] < least {
			t.Errorf("%s: %d, want at least %d", name, counts[name], least)
		}
	}
	for kind, n := range rep.Totals {
		t.Errorf("%s: %d violations:\n%s", kind, n, rep.Details())
	}
}
