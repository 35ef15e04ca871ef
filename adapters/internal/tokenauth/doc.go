// Package tokenauth keeps a connection's short-lived credential (an OAuth
// access token, a login's Auth-Key) valid for the adapters that need one.
//
// A Source caches the credential its Fetch obtains and hands it to every
// call until shortly before it expires (Margin: a tenth of its lifetime, at
// most a minute), then obtains a new one. golang.org/x/oauth2's
// ReuseTokenSource has the same caching semantics, but it cannot be used
// here: its token requests are form-encoded (Reelevant's endpoint takes JSON),
// its Token method takes no context, and it has no way to drop a token the
// provider refused (a 401). Source adds what a fleet of commands in flight
// needs:
//
//   - one token request at a time, shared by every caller that needs a token
//     meanwhile (golang.org/x/sync/singleflight): no stampede when a token
//     expires or is revoked under many commands; the request runs on a
//     context that keeps the first caller's values (its trace) but not its
//     cancellation, so one caller giving up does not fail the others;
//   - a rate limit on token requests (Config.MinInterval, a small burst), on
//     top of the connection's own limit;
//   - Invalidate(token) after a 401: the next call obtains a new token, once,
//     however many calls saw the 401 with that token;
//   - a token request that fails for good (the provider refused the
//     credentials: *adapters.Error of KindUnauthorized or KindRejected) is
//     remembered for Config.FailureHold: every call in that time fails at
//     once with the same error, and the provider sees one request per hold,
//     not a retry loop. A transient failure is returned as it is (the
//     worker retries the command with backoff) and not remembered.
//
// Static wraps a fixed credential in the same interface (it never expires
// and cannot be renewed), so that adapters have one code path.
//
// Secrets returns every credential value the Source has seen (the current
// and a few previous tokens, and what Config.Secrets adds), for the
// adapter's and the worker's scrubbers. Nothing in this package logs.
package tokenauth
