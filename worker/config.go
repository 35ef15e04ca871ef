package worker

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/memflow"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/storeguard"
)

// Config configures a Worker. Zero values take the documented defaults.
type Config struct {
	// JetStream is the JetStream context to consume and publish with. Required.
	JetStream jetstream.JetStream
	// Store is the dedup, lease and order-key store. Required.
	Store dedup.Store
	// StoreGuard, when set, guards Store against the loss of its state
	// (contract §5.7; see worker/storeguard): the worker checks it at start,
	// every StoreCheckInterval and after a failed store call, and applies
	// nothing (it stops fetching and hands back what it holds) while the
	// check has not said ok. Its store should be Store (or the store Store
	// wraps). Default nil: no guard.
	StoreGuard *storeguard.Guard
	// Flow holds the connections' flow-control state (rate limits, wait
	// signals, circuits) for the fleet: redisflow beside a Redis dedup
	// store. Default: in this process only (memflow), right for one worker.
	Flow flow.Store
	// MaxParked bounds how long a pulled command waits for flow control
	// (a circuit open, a provider's wait) before it is handed back to the
	// stream like one whose retry budget is spent. Default 15m.
	MaxParked time.Duration
	// StoreCheckInterval is how often the store guard checks. Default 2s.
	StoreCheckInterval time.Duration
	// Connections are the configured provider connections. At least one.
	Connections []Connection

	// Subjects names the subjects (prefix "sync" by default).
	Subjects messages.Subjects
	// Streams names and shapes the three streams.
	Streams StreamsConfig
	// NoProvision skips creating or updating streams and consumers at start.
	NoProvision bool
	// RejectUnknownConnections runs the catch-all consumer that answers
	// commands for connections no worker is configured for with a rejected
	// result (unknown_connection). Default true; see Config.withDefaults.
	RejectUnknownConnections *bool
	// UnknownConnectionGrace is how long after its publication a command
	// for a connection that no worker serves yet waits (handed back with a
	// delay) before the catch-all consumer rejects it as
	// unknown_connection, so that a rolling deploy that adds a connection
	// loses none of its commands. Default 5m.
	UnknownConnectionGrace time.Duration

	// Instance names this worker process in result sources
	// (/syncworker/<instance>). Default: hostname-<random>.
	Instance string
	// Logger receives the worker's logs. Default: discard.
	Logger *slog.Logger
	// TracerProvider creates the worker's spans. Default: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider creates the worker's metric instruments (see
	// deploy/METRICS.md). Default: otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator reads and writes trace context in NATS headers.
	// Default: W3C trace context and baggage.
	Propagator propagation.TextMapPropagator

	// AckWait is the consumers' ack wait. Default 30s.
	AckWait time.Duration
	// MaxDeliver is the delivery budget: a command whose attempts fail
	// transiently on its MaxDeliver-th delivery is dead-lettered. Default 5.
	MaxDeliver int
	// RetryBudget bounds the in-process retries of one delivery; it must be
	// below AckWait. Default AckWait/2.
	RetryBudget time.Duration
	// InitialBackoff is the first retry interval. Default 100ms.
	InitialBackoff time.Duration
	// MaxBackoff caps one retry interval. Default 5s.
	MaxBackoff time.Duration
	// MaxProviderWait caps a wait the provider asks for (Retry-After,
	// X-RateLimit-Reset). Default 5m.
	MaxProviderWait time.Duration
	// MaxNakDelay caps the redelivery delay after a transient failure.
	// Default 2m.
	MaxNakDelay time.Duration
	// LeaseTTL bounds the resource lease and the command claim; the
	// heartbeat renews them every LeaseTTL/3. Default 15s. The resource
	// stays held for the command AckWait + LeaseTTL beyond its lease (see
	// hold).
	LeaseTTL time.Duration
	// LeaseWait is how long a command waits in process for a busy resource
	// lease before it is handed back. Default 2s.
	LeaseWait time.Duration
	// ResultTTL is how long a finished command's result is kept for
	// deduplication. Default 72h.
	ResultTTL time.Duration
	// RejectedResultTTL is how long a rejected command's result is kept
	// (at most ResultTTL): a rejection applied nothing, so its record only
	// answers redeliveries and publisher retries with the same result, and
	// refuses the same id with another payload (id_conflict), for that
	// long. Later, a duplicate is decided again (and rejected again, with
	// the same result event id) and the same id with another payload is a
	// new command. It bounds what a flood of invalid commands keeps in the
	// store. Stores that cannot expire one record (kvdedup) keep it for
	// their own retention. Default 1h.
	RejectedResultTTL time.Duration
	// PublishTimeout bounds the wait for a result's publish ack. Default 10s.
	PublishTimeout time.Duration
	// StoreTimeout bounds one dedup store call. Default 5s.
	StoreTimeout time.Duration
	// DrainTimeout bounds how long Run waits for in-flight commands after
	// its context is cancelled before cancelling them (they are handed
	// back). Default 10s.
	DrainTimeout time.Duration
	// MaxCommandBytes is the largest command body accepted. Default 64 KiB.
	MaxCommandBytes int
	// DigestKey is the key with which secrets enter payload digests
	// (docs/payload-digest.md): the fleet's shared key, from
	// internal/digestkey. Default: a random key of this worker alone,
	// which is right for one worker only (two workers with different keys
	// see a duplicate of a command with a secret as an id_conflict).
	DigestKey []byte
	// FetchBatch is the number of messages pulled per request. Default 64.
	FetchBatch int
	// JetStreamInfoTTL is how long what JetStream said about the streams
	// and consumers is reused by CheckReady and the consumer pending
	// gauges. Default 5s.
	JetStreamInfoTTL time.Duration

	// now is the clock; tests may replace it.
	now func() time.Time
}

// StreamsConfig names and shapes the streams the worker provisions.
type StreamsConfig struct {
	// Commands, Results and DeadLetter are the stream names. Defaults:
	// SYNC_COMMANDS, SYNC_RESULTS, SYNC_DEADLETTER.
	Commands, Results, DeadLetter string
	// Storage is file (default) or memory.
	Storage jetstream.StorageType
	// Replicas is the number of stream replicas. Default 1.
	Replicas int
	// MaxAge is how long messages are kept. Default 7 days.
	MaxAge time.Duration
	// DuplicateWindow is JetStream's publish dedup window. Default 2m.
	DuplicateWindow time.Duration
	// MaxBytes bounds each stream's storage. When the commands stream is
	// full, publishes fail (discard new: nothing unprocessed is dropped);
	// the results and dead-letter streams drop their oldest messages.
	// Default 1 GiB (64 MiB with memory storage, which JetStream reserves up front); -1: unlimited.
	MaxBytes int64
	// MaxMsgSize is the largest message the commands stream stores,
	// headers included; JetStream refuses a larger publish. The results and
	// dead-letter streams allow deadLetterHeaderReserve more. Default
	// MaxCommandBytes + 16 KiB; -1: unlimited (the server's max_payload).
	MaxMsgSize int32
}

// commandHeaderAllowance is the default room for a command's headers in
// the commands stream's MaxMsgSize.
const commandHeaderAllowance = 16 << 10

// deadLetterMaxMsgSize is the dead-letter (and results) stream's max
// message size; <= 0: unlimited.
func (s StreamsConfig) deadLetterMaxMsgSize() int {
	if s.MaxMsgSize < 0 {
		return -1
	}
	return int(s.MaxMsgSize) + deadLetterHeaderReserve
}

// Connection is one configured provider connection.
type Connection struct {
	// Name is the connection name ([a-z0-9_-]{1,64}).
	Name string
	// Adapter applies this connection's updates.
	Adapter adapters.Adapter
	// MaxInFlight is the number of commands worked on at once. Default 8.
	MaxInFlight int
	// Secrets are the connection's credential values, scrubbed from any
	// text the worker emits.
	Secrets []string
	// RateLimit is the connection's fleet-wide rate limit, shared through
	// Config.Flow; zero: none.
	RateLimit flow.Limit
	// Circuit configures the connection's circuit (flow.CircuitConfig's
	// defaults: 5 transient failures in a row open it for 30s).
	Circuit flow.CircuitConfig
}

func (c Config) withDefaults() Config {
	if c.RejectUnknownConnections == nil {
		yes := true
		c.RejectUnknownConnections = &yes
	}
	c.Streams.Commands = cmp.Or(c.Streams.Commands, "SYNC_COMMANDS")
	c.Streams.Results = cmp.Or(c.Streams.Results, "SYNC_RESULTS")
	c.Streams.DeadLetter = cmp.Or(c.Streams.DeadLetter, "SYNC_DEADLETTER")
	c.Streams.Replicas = cmp.Or(c.Streams.Replicas, 1)
	c.Streams.MaxAge = cmp.Or(c.Streams.MaxAge, 7*24*time.Hour)
	c.Streams.DuplicateWindow = cmp.Or(c.Streams.DuplicateWindow, 2*time.Minute)
	if c.Streams.MaxBytes == 0 {
		c.Streams.MaxBytes = 1 << 30
		if c.Streams.Storage == jetstream.MemoryStorage {
			c.Streams.MaxBytes = 64 << 20
		}
	}
	c.UnknownConnectionGrace = cmp.Or(c.UnknownConnectionGrace, 5*time.Minute)
	c.Instance = cmp.Or(c.Instance, defaultInstance())
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = otel.GetMeterProvider()
	}
	if c.Propagator == nil {
		c.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	c.MaxDeliver = cmp.Or(c.MaxDeliver, 5)
	c.RetryBudget = cmp.Or(c.RetryBudget, c.AckWait/2)
	c.InitialBackoff = cmp.Or(c.InitialBackoff, 100*time.Millisecond)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 5*time.Second)
	c.MaxProviderWait = cmp.Or(c.MaxProviderWait, 5*time.Minute)
	c.MaxNakDelay = cmp.Or(c.MaxNakDelay, 2*time.Minute)
	c.LeaseTTL = cmp.Or(c.LeaseTTL, 15*time.Second)
	c.LeaseWait = cmp.Or(c.LeaseWait, 2*time.Second)
	c.MaxParked = cmp.Or(c.MaxParked, 15*time.Minute)
	if c.Flow == nil {
		c.Flow = memflow.New()
	}
	c.ResultTTL = cmp.Or(c.ResultTTL, 72*time.Hour)
	c.RejectedResultTTL = min(cmp.Or(c.RejectedResultTTL, time.Hour), c.ResultTTL)
	c.PublishTimeout = cmp.Or(c.PublishTimeout, 10*time.Second)
	c.StoreTimeout = cmp.Or(c.StoreTimeout, 5*time.Second)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, 10*time.Second)
	c.MaxCommandBytes = cmp.Or(c.MaxCommandBytes, messages.DefaultMaxCommandBytes)
	if len(c.DigestKey) == 0 {
		c.DigestKey = make([]byte, 32)
		_, _ = rand.Read(c.DigestKey) // crypto/rand.Read never fails
	}
	c.Streams.MaxMsgSize = cmp.Or(c.Streams.MaxMsgSize, int32(min(c.MaxCommandBytes+commandHeaderAllowance, 1<<30)))
	c.FetchBatch = cmp.Or(c.FetchBatch, 64)
	c.JetStreamInfoTTL = cmp.Or(c.JetStreamInfoTTL, 5*time.Second)
	c.StoreCheckInterval = cmp.Or(c.StoreCheckInterval, 2*time.Second)
	for i := range c.Connections {
		c.Connections[i].MaxInFlight = cmp.Or(c.Connections[i].MaxInFlight, 8)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.JetStream == nil {
		errs = append(errs, errors.New("a JetStream context is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("a dedup store is required"))
	}
	if len(c.Connections) == 0 {
		errs = append(errs, errors.New("at least one connection is required"))
	}
	seen := map[string]bool{}
	for _, conn := range c.Connections {
		switch {
		case !messages.ValidConnection(conn.Name):
			errs = append(errs, fmt.Errorf("connection name %q does not match [a-z0-9_-]{1,64}", conn.Name))
		case seen[conn.Name]:
			errs = append(errs, fmt.Errorf("connection %q configured twice", conn.Name))
		case conn.Adapter == nil:
			errs = append(errs, fmt.Errorf("connection %q has no adapter", conn.Name))
		case conn.MaxInFlight < 1:
			errs = append(errs, fmt.Errorf("connection %q: maxInFlight must be at least 1", conn.Name))
		}
		seen[conn.Name] = true
	}
	if c.RetryBudget >= c.AckWait {
		errs = append(errs, fmt.Errorf("retry budget %s must be below the ack wait %s", c.RetryBudget, c.AckWait))
	}
	if c.Streams.MaxMsgSize > 0 && int(c.Streams.MaxMsgSize) < c.MaxCommandBytes {
		errs = append(errs, fmt.Errorf("streams max message size %d is below maxCommandBytes %d", c.Streams.MaxMsgSize, c.MaxCommandBytes))
	}
	if c.LeaseTTL <= 0 || c.MaxDeliver < 1 || c.FetchBatch < 1 {
		errs = append(errs, errors.New("LeaseTTL, MaxDeliver and FetchBatch must be positive"))
	}
	return errors.Join(errs...)
}

func defaultInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "syncworker"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// hold is how long a resource stays held for a command beyond its lease
// (dedup.BeginRequest.Hold) when its delivery stops without recording an
// outcome (its worker died, maybe after a write whose answer it got): the
// ack wait, after which the message is redelivered, plus a lease TTL for
// the redelivery to reach a worker. Only that redelivery may take the
// resource meanwhile, so no other command touches it before the outcome
// of a write that may have landed is recorded (docs/CONTRACT.md §5.1).
func (c *Config) hold() time.Duration { return c.AckWait + c.LeaseTTL }
