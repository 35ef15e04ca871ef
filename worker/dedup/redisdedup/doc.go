// Package redisdedup is the production dedup.Store, on Redis.
//
// # Keys
//
// With Config.Prefix p (default "oauthsync"):
//
//	p:cmd:<command id>   hash, the command record
//	                     claim: s=c h=<payload hash> o=<owner>, PEXPIRE = claim TTL
//	                     done:  s=d h=<payload hash> r=<result bytes> [f=1 when
//	                            Reopenable, with q=<origin stream sequence>
//	                            t=<origin time, Unix ns>], PEXPIRE = ResultTTL
//	p:seen:<command id>  hash, the command's sighting while it is not done:
//	                     h=<first payload hash> q=<earliest copy's stream
//	                     sequence> t=<its time, Unix ns> ('' when unknown),
//	                     PEXPIRE = the request's SightingTTL; Complete deletes
//	                     it, Release and an expired claim leave it, so it
//	                     adds nothing to the bytes kept per finished command
//	p:holds:<lease key>  hash, the resource's lease and holds ("<connection>/<resource>"),
//	                     each entry <owner> NUL <deadline, Unix ms>, an entry
//	                     whose deadline passed counting as gone; PEXPIREAT =
//	                     the latest deadline. The lease is the entry under the
//	                     empty field (a command id is never empty), until the
//	                     claim's deadline. A hold is the entry under a command
//	                     id: the resource held beyond its lease for the command
//	                     that took the lease (lease TTL + Hold) and for those
//	                     that joined it (BeginRequest.JoinOwner), each until
//	                     its Complete or Release (kept for Hold by a Release
//	                     with KeepHold) or its deadline; while any is held,
//	                     only their next deliveries may take the lease
//	                     (resumed). A Begin drops the lapsed holds it reads.
//	                     One hash, so that Begin reads the lease and the holds
//	                     in one call and writes them in one. The string
//	                     p:lease:<lease key> and p:hold:<lease key> of earlier
//	                     versions are no longer read: upgrade with no worker
//	                     of an older version running.
//	p:order:<lease key>  hash field -> order key "<key>/<stream sequence>"
//	                     (decimal int64 and uint64), no expiry
//	p:trace:<command id> string, the W3C traceparent of the last delivery that
//	                     handed the command back, PX = the request's TTL
//	p:store:epoch        string, the epoch marker (dedup.Marked), no expiry
//	p:store:completions  integer, raised by complete.lua with each done record
//	                     it writes, no expiry
//
// # Invariants
//
//   - Begin, Renew, Complete and Release are each one Lua script
//     (begin.lua, renew.lua, complete.lua, release.lua, embedded): atomic,
//     and one round trip (EVALSHA, with go-redis falling back to EVAL once
//     when the server's script cache is empty). The delivery trace records
//     are a plain SET and GET of a key no script touches.
//   - Expiry is the Redis server's: TTLs are PEXPIRE/PEXPIREAT on the keys,
//     and the lease's and holds' deadlines are compared with the server's
//     TIME, so only the Redis server's clock matters; an expired claim is
//     simply absent, a lapsed lease or hold counts as absent.
//   - A claim or lease is extended, released or replaced only by its owner;
//     another owner can take it only once it has expired.
//   - A done record is written once (Complete with the same hash leaves it
//     as it is) and never turned back into a claim, except one with f=1
//     (Reopenable) by a Begin with Replay and the same hash, which
//     replaces it with a claim (the lease taken first, so a busy lease
//     leaves the record as it was); it lives for the request's ResultTTL,
//     after which the id is new again.
//   - A sighting's hash never changes: while it exists, a Begin with
//     another hash is a conflict; its origin only moves to an earlier copy
//     (lower stream sequence).
//   - Order keys never decrease (except by ResetOrderKeys, an operator's
//     act). A key is the pair (order key, stream sequence), compared
//     lexicographically; both are compared as canonical decimal strings in
//     Lua, never as Lua numbers (doubles, exact only to 2^53), so all of
//     int64 and uint64 is exact. A bare "<key>" stored before keys had a
//     stream sequence reads as "<key>/0": it keeps its key and loses a
//     tie. (Such a key of a command without data.sequence was its stream
//     sequence, far below any Unix time in ms, so the next command stored
//     since wins it, as it should.) They are kept forever: one small hash
//     per resource that ever completed a command with order keys.
//   - Order keys are read and written only with a lease key; without one a
//     command has no resource.
//   - The store's state is marked (contract §5.7): a Redis that comes back
//     empty has no p:store:epoch, one restored from an older snapshot a
//     lower p:store:completions. Begin's script is fence.lua followed by
//     begin.lua: with a fence set (Fence), a Begin on a store whose marker
//     is another or missing, or whose counter is below the fence's, answers
//     dedup.ErrStoreLost in the same atomic step, before anything is read
//     or written. The
//     worker's store guard (worker/storeguard) keeps the durable copy of the
//     epoch and of the counter's high-water mark in NATS.
//
// # Deployment
//
// Redis Cluster is not supported: the keys of one script (command record,
// lease and holds, order keys) lie in different hash slots, so a cluster
// would refuse the scripts (CROSSSLOT). Use a standalone Redis, or a primary with
// replicas and Sentinel (redis.NewUniversalClient with MasterName). Redis
// replication is asynchronous: writes acknowledged just before a failover
// can be lost, and with them a claim or a done record, which weakens the
// dedup guarantee for the commands in flight at that moment.
package redisdedup
