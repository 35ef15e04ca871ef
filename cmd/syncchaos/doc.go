// Command syncchaos is oauthsync's own chaos test: it runs syncworker
// processes against a NATS server, a Redis server and a provider simulator
// that it all starts itself on 127.0.0.1, breaks them while commands flow,
// and then judges the run from raw data only.
//
// The topology: a nats-server child process (this binary re-executed as
// "syncchaos nats-server", the module's embedded nats-server) SIGKILLed and
// started again on its JetStream store; a redis-server with its AOF on
// (appendfsync always), SIGKILLed and started again with the AOF kept, and
// at the end started again EMPTY; several syncworker processes, each
// SIGKILLed at random and started again; the simulators of Reelevant
// (PATCH, no read) and Hybrid Data Pipeline (read, merge, PUT of the whole
// object) in process, behind a wrapper that answers a share of requests
// with 5xx/429 (a tenth of the 429s with Retry-After: 1, which holds the
// whole fleet), loses the answer of a share of the writes it applied
// (closed connection or 502), and records every write applied, in order,
// before any answer leaves.
//
// The load: commands over resources, each setting fields to values unique
// to it and a canary clientSecret; some with data.sequence (out of order),
// duplicates and reused ids (same id, other payload) published late, all
// with Nats-Msg-Id; a few for a connection no worker serves, which the
// workers' catch-all scan must reject as unknown_connection, once each.
//
// The verdict (check.go) reads the commands stream (order keys: the stored
// time or data.sequence, ties by stream sequence), the results and dead
// letters streams, the recorded writes, the simulator's final state, the
// workers' logs and their RSS, and reports each violated property with
// examples; counts that show the run did not do what it planned fail it
// too, and so does a checker that misses a violation planted into a copy of
// the run's own data (plant.go). "syncchaos -self-test" runs the checker on
// small histories with one known violation each.
package main
