package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oauthsync/oauthsync/internal/serverproc"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "nats-server" {
		if err := serverproc.NATSServerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "syncchaos nats-server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainRun(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// mainRun parses args, runs the chaos test (or the self-test) and prints
// the verdict: 0 on PASS, 1 on FAIL, 2 when the run could not be made.
func mainRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, selfTest, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if selfTest {
		return runSelfTest(stdout)
	}
	rep, err := run(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "syncchaos:", err)
		fmt.Fprintln(stdout, "syncchaos: FAIL the run could not be completed:", err)
		return 2
	}
	fmt.Fprintln(stdout, rep.Summary())
	fmt.Fprint(stdout, rep.Details())
	if o.allViolations != "" {
		if err := os.WriteFile(o.allViolations, []byte(rep.Summary()+"\n"+rep.All()), 0o600); err != nil {
			fmt.Fprintln(stderr, "syncchaos:", err)
		}
	}
	if !rep.Pass() {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, bool, error) {
	var o options
	fs := flag.NewFlagSet("syncchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  syncchaos [flags]           a chaos run against syncworker processes, then the verdict\n  syncchaos -self-test        check the checker on histories with known violations\n  syncchaos nats-server --port P --store DIR   (used by the run itself)\n\nFlags:\n")
		fs.PrintDefaults()
	}
	selfTest := fs.Bool("self-test", false, "run the checker on synthetic histories, one per violation kind, and a clean one")
	fs.StringVar(&o.workerBin, "worker-bin", "", "syncworker binary (default: go build ./cmd/syncworker into the run's directory)")
	fs.IntVar(&o.workers, "workers", 3, "syncworker processes")
	fs.IntVar(&o.commands, "commands", 100000, "commands to publish")
	fs.IntVar(&o.resources, "resources", 1000, "resources they spread over (the last digit of an id is its class: 0 no data.sequence, 1 always, 2 mixed)")
	fs.Float64Var(&o.rate, "rate", 0, "publish at most this many commands per second (0: as fast as possible)")
	fs.DurationVar(&o.seqJitter, "seq-jitter", 3*time.Second, "data.sequence is the publish time minus up to this much: sequenced commands arrive out of order")
	fs.Float64Var(&o.seqFraction, "seq-fraction", 0.5, "share of commands on mixed resources that carry data.sequence")
	fs.Float64Var(&o.dupFraction, "dup-fraction", 0.03, "share of commands published again, late (after the duplicate window)")
	fs.Float64Var(&o.reuseFraction, "reuse-fraction", 0.01, "share of ids published again, late, with another payload")
	fs.Float64Var(&o.unroutedFraction, "unrouted-fraction", 0.005, "share of commands (at least one) also published for a connection no worker serves: each must end rejected as unknown_connection, once (the workers' unknownConnectionGrace is 2s)")
	fs.Float64Var(&o.faultRate, "fault-rate", 0.30, "share of provider requests answered 5xx or 429 without being applied")
	fs.Float64Var(&o.lostRate, "lost-rate", 0.02, "share of provider requests applied whose answer is lost (connection closed or 502)")
	fs.DurationVar(&o.killMin, "kill-min", 20*time.Second, "a random worker is SIGKILLed every kill-min..kill-max, and started again")
	fs.DurationVar(&o.killMax, "kill-max", 40*time.Second, "see -kill-min")
	fs.IntVar(&o.minKills, "min-kills", 1, "the run goes on until at least this many kills happened; fewer fails the verdict")
	fs.IntVar(&o.natsRestarts, "nats-restarts", 1, "SIGKILL and restart of nats-server (store kept) while publishing")
	fs.IntVar(&o.redisRestarts, "redis-restarts", 1, "SIGKILL and restart of redis-server (AOF kept) while publishing")
	fs.BoolVar(&o.redisEmpty, "redis-empty", true, "after phase 1, restart redis-server EMPTY, publish duplicates and reused ids, and check the workers fail closed")
	fs.DurationVar(&o.emptyWatch, "empty-watch", 20*time.Second, "how long phase 2 watches after Redis came back empty")
	fs.DurationVar(&o.dupWindow, "dup-window", 30*time.Second, "the streams' duplicate window (late duplicates come after it)")
	fs.DurationVar(&o.ackWait, "ack-wait", 30*time.Second, "the worker's worker.ackWait")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", 15*time.Second, "the worker's worker.leaseTTL")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 16, "the connection's maxInFlight")
	fs.DurationVar(&o.circuitOpenFor, "circuit-open-for", 0, "the connections' circuit.openFor (0: the worker's default, 30s); scale it with -ack-wait: a provider failing a third of its calls opens circuits now and then")
	fs.Float64Var(&o.rateLimit, "rate-limit", 0, "each connection's fleet-wide rateLimit.perSecond (burst 4; 0: none): with few -resources, the commands of a resource wait together and are coalesced")
	fs.Float64Var(&o.oneField, "one-field", 0, "the fraction of commands that set one field and no client secret: waiting together under -rate-limit, those of a resource ride in one another's writes (merged writes)")
	fs.DurationVar(&o.settle, "settle", 15*time.Minute, "how long to wait, after publishing, for every command's result")
	fs.IntVar(&o.maxRSSMiB, "max-rss-mib", 256, "a worker whose RSS goes above this fails the run (the shipped Kubernetes limit)")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock); printed at the start")
	fs.StringVar(&o.dir, "dir", "", "directory for logs, stores and the worker binary (default: a temporary one, removed unless -keep)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	fs.StringVar(&o.allViolations, "violations", "", "write every violation, not only the first of each kind, to this file")
	providers := fs.String("providers", strings.Join(providerNames, ","), "providers to drive, comma-separated: "+strings.Join(providerNames, ", ")+" (commands and resources are split between them)")
	err := fs.Parse(args)
	o.providers = strings.Split(*providers, ",")
	return o, *selfTest, err
}
