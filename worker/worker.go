package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/flow"
)

const tracerName = "github.com/oauthsync/oauthsync/worker"

// Worker consumes commands for its connections. Create it with New and run
// it with Run; a Worker runs once.
type Worker struct {
	cfg    Config
	tracer trace.Tracer
	// untraced: the tracer provider is a no-op one, whose spans are never
	// recorded; span attributes are not even built (the trace context
	// still flows).
	untraced bool
	conns    map[string]*Connection
	source   string
	secrets  []string
	// dynamic are the adapters whose credentials change at run time
	// (renewed tokens, re-read files): see secretSource.
	dynamic []secretSource

	// scrubber redacts secrets (and a command's own, see scrub).
	scrubber *redact.Scrubber

	ready   atomic.Bool
	started atomic.Bool

	// stopping is cancelled when Run's context is: it interrupts retry
	// waits and makes workers hand back messages they have not started.
	stopping context.Context
	// work bounds in-flight work; cancelled DrainTimeout after stopping.
	work context.Context

	inflight inflight
	// turns orders the held commands of each resource (turns.go).
	turns resourceTurns
	// completer acks the deliveries whose results are being published.
	completer *completer
	// consumers caches which connections have a durable consumer (see
	// deferUnrouted).
	consumers consumerCache
	// guard is the store guard's verdict (Config.StoreGuard).
	guard guardState

	inst *instruments
	// consumerMetrics are the attribute sets of each consumer, by durable name.
	consumerMetrics map[string]*connMetrics
	topo            topologyCache
	// gates are the connections' flow control, by name (flowcontrol.go).
	gates map[string]*flow.Gate
	// flowWarned: when each connection's flow store failure was last
	// logged (flowStoreFailed).
	flowWarnMu sync.Mutex
	flowWarned map[string]time.Time
}

// secretSource is an adapter whose credentials change at run time (access
// tokens it obtains, credential files read again): Secrets returns the
// values in use now (and recently), and the worker scrubs them from every
// text it emits, like Connection.Secrets. It must be cheap and safe for
// concurrent use.
type secretSource interface{ Secrets() []string }

// New validates cfg and returns a Worker.
func New(cfg Config) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	inst, err := newInstruments(cfg.MeterProvider.Meter(meterName))
	if err != nil {
		return nil, fmt.Errorf("worker metrics: %w", err)
	}
	w := &Worker{
		cfg:             cfg,
		tracer:          cfg.TracerProvider.Tracer(tracerName),
		untraced:        isNoopTracing(cfg.TracerProvider),
		conns:           make(map[string]*Connection, len(cfg.Connections)),
		source:          "/syncworker/" + cfg.Instance,
		inst:            inst,
		consumerMetrics: make(map[string]*connMetrics, len(cfg.Connections)+1),
		gates:           make(map[string]*flow.Gate, len(cfg.Connections)),
	}
	for i := range cfg.Connections {
		c := &cfg.Connections[i]
		w.conns[c.Name] = c
		w.secrets = append(w.secrets, c.Secrets...)
		if d, ok := c.Adapter.(secretSource); ok {
			w.dynamic = append(w.dynamic, d)
		}
		m := newConnMetrics(c.Name, c.Adapter.Provider())
		w.consumerMetrics[consumerName(c.Name)] = m
		w.consumerMetrics[bulkConsumerName(c.Name)] = m.inLane(laneBulk)
		w.gates[c.Name] = w.newGate(c)
	}
	w.consumerMetrics[unroutedConsumer] = newConnMetrics(unroutedLabel, "")
	w.scrubber = redact.New(w.secrets...)
	w.guard.init(cfg.StoreGuard != nil)
	return w, nil
}

// Ready reports whether the worker has provisioned and is consuming.
func (w *Worker) Ready() bool { return w.ready.Load() }

// Run provisions (unless Config.NoProvision) and consumes until ctx is
// cancelled. Then it stops fetching, hands back what it has not started,
// lets in-flight commands finish for up to Config.DrainTimeout (then
// cancels and hands them back), and returns nil. It returns an error if
// provisioning or consuming fails.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("worker: Run called twice")
	}
	if !w.cfg.NoProvision {
		if err := w.provision(ctx); err != nil {
			return err
		}
	}
	stopping, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	w.stopping, w.work = stopping, work

	var (
		pools []*lanePool
		loops []*consumeLoop
		scan  *consumeLoop
	)
	for _, c := range w.cfg.Connections {
		p := w.newLanePool(c)
		pools = append(pools, p)
		loops = append(loops, p.loops()...)
	}
	if *w.cfg.RejectUnknownConnections {
		scan = w.newConsumeLoop(unroutedConsumer, w.cfg.Subjects.Commands(), "", "", 1)
		loops = append(loops, scan)
	}
	for _, l := range loops {
		if err := l.start(ctx); err != nil {
			return err
		}
	}
	reg, err := w.cfg.MeterProvider.Meter(meterName).RegisterCallback(w.observeConsumers, w.inst.pending, w.inst.ackPending)
	if err != nil {
		return fmt.Errorf("worker metrics: %w", err)
	}
	defer func() { _ = reg.Unregister() }()
	circuitReg, err := w.cfg.MeterProvider.Meter(meterName).RegisterCallback(w.observeCircuits, w.inst.circuitState)
	if err != nil {
		return fmt.Errorf("worker metrics: %w", err)
	}
	defer func() { _ = circuitReg.Unregister() }()
	guardReg, err := w.registerStoreGauge()
	if err != nil {
		return err
	}
	if guardReg != nil {
		defer func() { _ = guardReg.Unregister() }()
	}
	w.checkStoreAtStart(work)
	guardCtx, stopGuard := context.WithCancel(work)
	guardDone := make(chan struct{})
	go func() { defer close(guardDone); w.runStoreGuard(guardCtx) }()
	defer func() { stopGuard(); <-guardDone }()
	w.ready.Store(true)
	w.cfg.Logger.Info("worker running", "instance", w.cfg.Instance, "connections", len(w.cfg.Connections))

	hbCtx, stopHeartbeat := context.WithCancel(work)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeat(hbCtx) }()
	held := 0
	for _, l := range loops {
		held += l.workers + l.prefetch()
	}
	w.startCompleter(held)

	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	for _, p := range pools {
		g.Go(func() error { return p.run(gctx) })
	}
	if scan != nil {
		g.Go(func() error { return scan.run(gctx) })
	}

	// Soft stop: on ctx cancellation or when a loop fails.
	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	w.ready.Store(false)
	w.cfg.Logger.Info("worker stopping: no more fetching, draining in-flight commands", "drainTimeout", w.cfg.DrainTimeout)
	stop()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	drain := time.NewTimer(w.cfg.DrainTimeout)
	defer drain.Stop()
	select {
	case err = <-done:
	case <-drain.C:
		w.cfg.Logger.Warn("drain timeout: cancelling in-flight commands; they are handed back for redelivery")
		cancelWork()
		err = <-done
	}
	w.completer.stop() // the loops are done: nothing more comes to it
	stopHeartbeat()
	<-hbDone
	w.cfg.Logger.Info("worker stopped")
	return err
}

// subjects is a shorthand.
func (w *Worker) subjects() messages.Subjects { return w.cfg.Subjects }

// consumer returns the durable consumer named name on the commands stream.
func (w *Worker) consumer(ctx context.Context, name string) (jetstream.Consumer, error) {
	c, err := w.cfg.JetStream.Consumer(ctx, w.cfg.Streams.Commands, name)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", name, w.cfg.Streams.Commands, err)
	}
	return c, nil
}
