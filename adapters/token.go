package adapters

import "context"

type tokenRequestKey struct{}

// WithTokenRequest marks ctx as the context of a request for a credential
// (an OAuth token request, a login), as opposed to a call of the provider's
// management API. The worker's instrumented HTTP client counts such requests
// apart (oauthsync_provider_token_requests_total); adapters set the mark,
// they never import the instrumentation.
func WithTokenRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, tokenRequestKey{}, true)
}

// IsTokenRequest reports whether ctx was marked by WithTokenRequest.
func IsTokenRequest(ctx context.Context) bool {
	v, _ := ctx.Value(tokenRequestKey{}).(bool)
	return v
}
