package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/memflow"
	"github.com/oauthsync/oauthsync/worker/flow/redisflow"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/digestkey"
	"github.com/oauthsync/oauthsync/internal/providers"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/internal/telemetry"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/kvdedup"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
	"github.com/oauthsync/oauthsync/worker/storeguard"
)

// running is what serve built, handed to a dev hook once the worker is ready.
type running struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	natsURL  string
	httpAddr string
	subjects messages.Subjects
	worker   *worker.Worker
}

// pinger is a dedup store that can say it answers.
type pinger interface{ Ping(context.Context) error }

// serve runs the worker described by cfg until ctx is cancelled. With
// afterReady, it calls it once the worker consumes; its error ends serve.
func serve(ctx context.Context, o *options, cfg *config.File, logger *slog.Logger, afterReady func(context.Context, *running) error) error {
	res, err := telemetry.Resource(ctx, "syncworker")
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	tp, shutdownTracing, err := telemetry.SetupTracing(ctx, res, os.Getenv)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			logger.Warn("flushing traces failed", "error", err)
		}
	}()
	mp, metricsHandler, shutdownMetrics, err := setupMetrics(ctx, res)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownMetrics(sctx); err != nil {
			logger.Warn("flushing metrics failed", "error", err)
		}
	}()

	natsURL := cmp.Or(o.natsURL, cfg.NATS.URL)
	if natsURL == "" {
		ns, stopNATS, err := startEmbeddedNATS(o.dataDir, o.natsPort, logger)
		if err != nil {
			return err
		}
		defer stopNATS()
		natsURL = ns.ClientURL()
	}
	nopts := []nats.Option{nats.Name("syncworker"), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate close
				logger.Warn("NATS disconnected; reconnecting", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { logger.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) })}
	if cfg.NATS.Creds != "" {
		nopts = append(nopts, nats.UserCredentials(cfg.NATS.Creds))
	}
	var nc *nats.Conn
	err = waitForServer(ctx, logger, "NATS at "+redact.URL(natsURL), natsUnreachable, func(context.Context) (err error) {
		nc, err = nats.Connect(natsURL, nopts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", redact.URL(natsURL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	store, flowStore, closeStore, err := newStore(ctx, o, cfg, js, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	guard, err := openStoreGuard(ctx, js, store, cfg)
	if err != nil {
		return err
	}

	conns, err := buildConnections(cfg, providers.Registry(), tp, mp, logger)
	if err != nil {
		return err
	}
	// The fleet's payload digest key: created by the first worker unless
	// provisioning is someone else's job (docs/payload-digest.md).
	keyOf := digestkey.Ensure
	if o.noProvision {
		keyOf = digestkey.Load
	}
	digestKey, err := keyOf(ctx, js, digestkey.Config{Replicas: cfg.Streams.Replicas})
	if err != nil {
		return fmt.Errorf("payload digest key: %w", err)
	}
	subjects := messages.Subjects{Prefix: cfg.NATS.SubjectPrefix}
	storage := jetstream.FileStorage
	if cfg.Streams.Storage == "memory" {
		storage = jetstream.MemoryStorage
	}
	w, err := worker.New(worker.Config{
		JetStream:   js,
		Store:       store,
		StoreGuard:  guard,
		Flow:        flowStore,
		Connections: conns,
		Subjects:    subjects,
		Streams: worker.StreamsConfig{Commands: cfg.Streams.Names.Commands, Results: cfg.Streams.Names.Results,
			DeadLetter: cfg.Streams.Names.DeadLetter, Storage: storage, Replicas: cfg.Streams.Replicas,
			MaxAge: time.Duration(cfg.Streams.MaxAge), DuplicateWindow: time.Duration(cfg.Streams.DuplicateWindow),
			MaxBytes: int64(cfg.Streams.MaxBytes), MaxMsgSize: int32(min(cfg.Streams.MaxMsgSize, math.MaxInt32))},
		NoProvision:     o.noProvision,
		Instance:        cmp.Or(o.instance, cfg.Worker.Instance),
		Logger:          logger.With("component", "worker"),
		TracerProvider:  tp,
		MeterProvider:   mp,
		AckWait:         time.Duration(cfg.Worker.AckWait),
		MaxDeliver:      cfg.Worker.MaxDeliver,
		RetryBudget:     time.Duration(cfg.Worker.RetryBudget),
		LeaseTTL:        time.Duration(cfg.Worker.LeaseTTL),
		ResultTTL:       time.Duration(cfg.Worker.ResultTTL),
		DrainTimeout:    time.Duration(cfg.Worker.DrainTimeout),
		MaxCommandBytes: cfg.Worker.MaxCommandBytes,
		FetchBatch:      cfg.Worker.FetchBatch,
		MaxParked:       time.Duration(cfg.Worker.MaxParked),
		DigestKey:       digestKey,

		RejectUnknownConnections: cfg.Worker.RejectUnknownConnections,
		UnknownConnectionGrace:   time.Duration(cfg.Worker.UnknownConnectionGrace),
		RejectedResultTTL:        time.Duration(cfg.Worker.RejectedResultTTL),
	})
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	mux := healthHandler(nc, w, store)
	mux.Handle("GET /metrics", metricsHandler)
	if o.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	srv, httpAddr, err := startHTTP(o.httpAddr, mux, logger)
	if err != nil {
		return err
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error { return w.Run(gctx) })
	if afterReady != nil {
		g.Go(func() error {
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for !w.Ready() {
				select {
				case <-gctx.Done():
					return nil
				case <-t.C:
				}
			}
			return afterReady(gctx, &running{nc: nc, js: js, natsURL: natsURL, httpAddr: httpAddr, subjects: subjects, worker: w})
		})
	}
	err = g.Wait()
	if flushErr := nc.Flush(); flushErr != nil && !errors.Is(flushErr, nats.ErrConnectionClosed) {
		logger.Warn("flushing NATS failed", "error", flushErr)
	}
	return err
}

// newStore builds the Redis store when redis.url is set, else the
// JetStream KV store (the embedded default), and the flow-control store
// beside it: in Redis, shared by the fleet; without Redis, in the process.
func newStore(ctx context.Context, o *options, cfg *config.File, js jetstream.JetStream, logger *slog.Logger) (dedup.Store, flow.Store, func(), error) {
	if u := cmp.Or(o.redisURL, cfg.Redis.URL); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			// The error quotes the URL: run scrubs its password.
			return nil, nil, nil, fmt.Errorf("redis.url %s: %w", redact.URL(u), err)
		}
		client := redis.NewClient(opt)
		err = waitForServer(ctx, logger, "Redis at "+opt.Addr, netUnreachable, func(ctx context.Context) error {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return client.Ping(pctx).Err()
		})
		if err != nil {
			_ = client.Close()
			return nil, nil, nil, fmt.Errorf("redis at %s does not answer: %w", opt.Addr, err)
		}
		logger.Info("dedup store: Redis", "addr", opt.Addr, "db", opt.DB)
		return redisdedup.New(client, redisdedup.Config{Prefix: cfg.Redis.KeyPrefix}), redisflow.New(client, cfg.Redis.KeyPrefix),
			func() { _ = client.Close() }, nil
	}
	store, err := kvdedup.New(ctx, js, kvdedup.Config{ResultTTL: time.Duration(cfg.Worker.ResultTTL)})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dedup store (JetStream KV): %w", err)
	}
	logger.Info("dedup store: JetStream key-value buckets (no redis.url); flow control (rate limits, circuits) kept in this process")
	return store, memflow.New(), func() {}, nil
}

// openStoreGuard opens the store guard of store (contract §5.7), its record
// keyed by the store's kind and name: the Redis key prefix, or the KV
// bucket.
func openStoreGuard(ctx context.Context, js jetstream.JetStream, store dedup.Store, cfg *config.File) (*storeguard.Guard, error) {
	m, ok := store.(dedup.Marked)
	if !ok {
		return nil, nil
	}
	key := storeguard.Key("kv", kvdedup.DefaultBucket)
	if _, isRedis := store.(*redisdedup.Store); isRedis {
		key = storeguard.Key("redis", cmp.Or(cfg.Redis.KeyPrefix, redisdedup.DefaultPrefix))
	}
	g, err := storeguard.Open(ctx, js, m, storeguard.Config{Key: key})
	if err != nil {
		return nil, fmt.Errorf("dedup store guard: %w", err)
	}
	return g, nil
}

// buildConnections builds each configured connection's adapter, sorted by name.
// Credentials given as files are read again while the worker runs
// (providers.Build).
func buildConnections(cfg *config.File, reg *adapters.Registry, tp trace.TracerProvider, mp metric.MeterProvider, logger *slog.Logger) ([]worker.Connection, error) {
	names := cfg.ConnectionNames()
	var conns []worker.Connection
	var errs []error
	for _, name := range names {
		c := cfg.Connections[name]
		a, secrets, err := providers.Build(reg, name, c, providers.Options{
			HTTPClient: providerHTTPClient(name, c.Provider, tp, mp),
			Logger:     logger.With("component", "credentials")})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns = append(conns, worker.Connection{Name: name, Adapter: a, MaxInFlight: c.MaxInFlight, Secrets: secrets,
			RateLimit: flow.Limit{PerSecond: c.RateLimit.PerSecond, Burst: c.RateLimit.Burst},
			Circuit:   flow.CircuitConfig{Failures: c.Circuit.Failures, OpenFor: time.Duration(c.Circuit.OpenFor)}})
	}
	return conns, errors.Join(errs...)
}

// startEmbeddedNATS runs a NATS server with JetStream on port of
// 127.0.0.1 (0 or -1: a free one), storing in dataDir (a temporary dir,
// removed at shutdown, when empty). stop shuts it down.
func startEmbeddedNATS(dataDir string, port int, logger *slog.Logger) (ns *server.Server, stop func(), err error) {
	cleanup := func() {}
	if dataDir == "" {
		d, err := os.MkdirTemp("", "syncworker-nats-")
		if err != nil {
			return nil, nil, err
		}
		dataDir, cleanup = d, func() { _ = os.RemoveAll(d) }
	}
	if port <= 0 {
		port = server.RANDOM_PORT
	} else if ln, lerr := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); lerr != nil {
		cleanup()
		return nil, nil, fmt.Errorf("embedded NATS: port %d on 127.0.0.1 is taken (%w); pick another with --nats-port, or 0 for a random one", port, lerr)
	} else {
		_ = ln.Close()
	}
	ns, err = server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: dataDir, NoSigs: true, NoLog: true, ServerName: "syncworker-embedded"})
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go ns.Start()
	stop = func() { ns.Shutdown(); ns.WaitForShutdown(); cleanup() }
	if !ns.ReadyForConnections(10 * time.Second) {
		stop()
		return nil, nil, errors.New("embedded NATS did not start within 10s")
	}
	logger.Info("embedded NATS server with JetStream", "url", ns.ClientURL(), "dataDir", dataDir)
	return ns, stop, nil
}

func startHTTP(addr string, h http.Handler, logger *slog.Logger) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--http-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server failed", "error", err)
		}
	}()
	logger.Info("HTTP endpoints /healthz, /readyz and /metrics", "addr", ln.Addr().String())
	return srv, ln.Addr().String(), nil
}

// readyTimeout bounds each of /readyz's checks.
const readyTimeout = 2 * time.Second

// healthHandler serves /healthz (the process is alive) and /readyz: NATS
// connected, the worker consuming, its three streams and every consumer
// present (asked of JetStream, reused for a few seconds: see
// worker.Worker.CheckReady), and the dedup store answering. When not ready,
// 503 with one reason per line.
func healthHandler(nc *nats.Conn, w *worker.Worker, store dedup.Store) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		var reasons []string
		if !nc.IsConnected() {
			reasons = append(reasons, "NATS not connected")
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := w.CheckReady(ctx); err != nil {
			reasons = append(reasons, strings.Split(err.Error(), "\n")...)
		}
		if p, ok := store.(pinger); ok {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				reasons = append(reasons, "dedup store not answering: "+err.Error())
			}
		}
		if len(reasons) > 0 {
			rw.WriteHeader(http.StatusServiceUnavailable)
			for _, r := range reasons {
				_, _ = fmt.Fprintln(rw, r)
			}
			return
		}
		_, _ = rw.Write([]byte("ready\n"))
	})
	return mux
}
