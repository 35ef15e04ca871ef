// Package providerhttp builds the *http.Client a connection's adapter calls
// its provider with. Adapters never import OpenTelemetry (docs/STYLE.md habit 12):
// the instrumentation lives in this client's transport, built once per
// connection by whoever wires the worker (cmd/syncworker, tests). The
// connection's rate limit is not here: it is fleet-wide, and the worker
// takes its permits before it pulls a command (worker/flow).
//
// A request goes through, in order:
//
//  1. the request counter, oauthsync.provider.requests (Prometheus
//     oauthsync_provider_requests_total) with the labels connection,
//     provider and status_class (2xx, 3xx, 4xx, 5xx, or error when no
//     response came back); its attribute sets are built once per client,
//     so counting allocates nothing. Credential requests (access tokens,
//     logins), which adapters mark with adapters.WithTokenRequest, are
//     counted instead by oauthsync.provider.token_requests
//     (oauthsync_provider_token_requests_total), same labels, and are
//     traced like any request;
//  2. otelhttp's client span (HTTP semantic conventions: method, url.full
//     without user info, server.address and port, status code, error.type);
//     no header, so no credential, and no body is recorded. otelhttp's own
//     HTTP metrics are turned off: the counter above is the contract;
//  3. the base transport (a clone of http.DefaultTransport keeping up to 64
//     idle connections per host).
package providerhttp
