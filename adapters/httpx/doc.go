// Package httpx is the HTTP plumbing every provider adapter shares: one
// Client per connection that calls only the connection's base URL, and the
// helpers that turn provider responses into *adapters.Error values.
//
// Invariants:
//
//   - The host is always the configured base URL's. A request names its path
//     as segments; each is path-escaped and appended to the base path, so
//     nothing a command carries (a resource id with "../", "?" or "#") can
//     change the host, the path prefix or the query (docs/CONTRACT.md §5.5).
//   - Redirects are never followed: a 3xx comes back as a Response, which
//     StatusError classifies as KindRejected.
//   - Every call has its own timeout (Config.Timeout) on top of the caller's
//     context, and reads at most Config.MaxResponseBytes of a body.
//   - Transport failures come back as *adapters.Error: KindTimeout for a
//     deadline, KindUnavailable for the rest. A caller's cancellation is
//     KindUnavailable with Err = ctx.Err(), so errors.Is(err,
//     context.Canceled) holds.
//   - Error messages never hold the request URL's query or the request body:
//     they name the method and escaped path only. Transport error messages
//     are scrubbed of the configured secrets; StatusError takes a provider
//     message the caller has already scrubbed (Client.Scrub, before any cut).
//   - The Client copies the given *http.Client and keeps its Transport, so
//     the worker's instrumentation (OpenTelemetry) survives.
//
// The Client never retries and never sleeps: adapters classify, the worker
// retries.
package httpx
