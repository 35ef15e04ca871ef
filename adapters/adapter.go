package adapters

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"

	"github.com/oauthsync/oauthsync/messages"
)

// Update is the part of a command an adapter applies: the fields that are not
// stale, for one remote object.
type Update struct {
	// Resource is the remote object's id, as validated by messages.
	Resource string
	// Changes are the canonical fields to write; nil fields are left alone.
	Changes messages.Changes
	// ProviderFields are provider-native fields to write, by native name.
	ProviderFields map[string]json.RawMessage
}

// Fields returns the names of every field in u: canonical names, then
// provider fields as messages.ProviderFieldPrefix+name, sorted.
func (u Update) Fields() []string {
	f := u.Changes.Fields()
	return append(f, providerFieldNames(u.ProviderFields)...)
}

// With returns u with o's fields added, o's value winning where both set
// a field: the update of a write made for several commands (the worker's
// merged writes). The resource is u's.
func (u Update) With(o Update) Update {
	u.Changes = u.Changes.With(o.Changes)
	if len(o.ProviderFields) > 0 {
		fields := make(map[string]json.RawMessage, len(u.ProviderFields)+len(o.ProviderFields))
		maps.Copy(fields, u.ProviderFields)
		maps.Copy(fields, o.ProviderFields)
		u.ProviderFields = fields
	}
	return u
}

func providerFieldNames(m map[string]json.RawMessage) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, messages.ProviderFieldPrefix+n)
	}
	slices.Sort(names)
	return names
}

// OutcomeStatus is what Apply did.
type OutcomeStatus int

const (
	// Applied means the provider accepted a write.
	Applied OutcomeStatus = iota + 1
	// Unchanged means the read showed every value already in place; nothing was written.
	Unchanged
)

// Outcome is the result of a successful Apply.
type Outcome struct {
	Status OutcomeStatus
	// Requests is the number of HTTP requests Apply made (read and write).
	Requests int
}

// Adapter applies updates to one connection of one provider.
//
// Implementations must be safe for concurrent use by multiple goroutines; the
// worker guarantees that Apply is never called concurrently for one resource.
type Adapter interface {
	// Provider returns the provider's name as used in config and results
	// ("rocketchat").
	Provider() string

	// Validate checks u against the provider's document without any I/O:
	// resource id pattern, canonical fields the provider has no place for
	// (KindUnsupported), provider-native field names, types, patterns and
	// enums (KindInvalid). It returns nil or an *Error with a permanent Kind.
	Validate(u Update) error

	// Apply writes u to the provider, reading the current object first when
	// the provider only supports full replacement. It returns Unchanged
	// without writing when the read already shows every value.
	//
	// Apply makes at most one attempt: it never retries and never sleeps.
	// Every failure is an *Error: permanent kinds for refusals, retryable
	// kinds (with RetryAfter where the provider sent a wait signal) for
	// transient ones. It honours ctx cancellation. Apply is idempotent: the
	// same Update applied twice leaves the provider in the same state.
	// Error messages never contain a secret.
	Apply(ctx context.Context, u Update) (Outcome, error)
}

// Connection is what an adapter is built from: one configured connection.
type Connection struct {
	// Name is the connection name from config ("rc-prod").
	Name string
	// BaseURL is the only host the adapter may call.
	BaseURL string
	// Auth holds the provider's credentials by the provider's key names
	// (rocketchat: userId, authToken).
	Auth map[string]messages.Secret
	// HTTPClient is the client to call the provider with (instrumented by the
	// worker). Adapters must not follow redirects with it; nil means a
	// default client.
	HTTPClient *http.Client
}

// Factory builds an adapter for a connection, or says what is wrong with the
// connection's configuration.
type Factory func(Connection) (Adapter, error)
