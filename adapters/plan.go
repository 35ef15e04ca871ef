package adapters

import (
	"context"
	"encoding/json"
	"fmt"
)

// Planner is implemented by adapters that can tell, without writing, what
// Apply would change: the read-only path behind a migration's plan (dry run).
// The worker never calls it; a caller finds it with a type assertion on an
// Adapter.
type Planner interface {
	// Plan validates u like Apply, reads the resource's current state with
	// GET requests only (never a write, whatever the outcome) and returns
	// one FieldPlan per field of u, in u.Fields() order.
	//
	// Every field is FieldUnchanged exactly when Apply would return
	// Unchanged: Plan and Apply share the read, the overlay and the
	// comparisons. A provider without a read endpoint makes no request and
	// reports every field FieldUnknown.
	//
	// Plan fails with the *Error Apply would fail with before it writes:
	// KindInvalid or KindUnsupported for a field or resource id the
	// provider refuses (before any request); the read's own failures (not
	// found, unauthorized, rate limited with RetryAfter, unavailable,
	// timeout; a cancelled ctx); and KindRejected, naming the field, when
	// the merged object could not be written (a full-replace provider
	// whose read lacks a field it requires, which u does not set).
	//
	// Plan makes at most one attempt and never retries or sleeps. It is safe
	// for concurrent use and idempotent. Values of secrets never appear in
	// the plan, nor in an error message.
	Plan(ctx context.Context, u Update) (Plan, error)
}

// FieldState is what Apply would do to one field.
type FieldState int

const (
	// FieldChanged: the provider holds another value; Apply would write
	// Desired.
	FieldChanged FieldState = iota + 1
	// FieldUnchanged: the provider already holds Desired.
	FieldUnchanged
	// FieldUnknown: the current value cannot be read (the provider has no
	// read endpoint, or the field is write-only or masked); Apply would
	// send Desired.
	FieldUnknown
)

var fieldStateNames = map[FieldState]string{
	FieldChanged: "changed", FieldUnchanged: "unchanged", FieldUnknown: "unknown",
}

// String returns "changed", "unchanged" or "unknown".
func (s FieldState) String() string {
	if n, ok := fieldStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("FieldState(%d)", int(s))
}

// FieldPlan is what Apply would do to one field of an update.
type FieldPlan struct {
	// Field is the field's name as Update.Fields gives it: a canonical name
	// ("redirectUri") or messages.ProviderFieldPrefix+native name
	// ("providerFields.dataStore").
	Field string
	State FieldState
	// Current is the value the provider holds, as JSON, in the canonical
	// shape of the field (scopes as a JSON array of strings, active as a
	// bool; a provider field as the provider's JSON value). It is JSON null
	// when the read shows no value, and nil when State is FieldUnknown or
	// the field is Secret.
	Current json.RawMessage
	// Desired is the value Apply would write for the field, as JSON,
	// normalized the way Apply normalizes it, in the same shape as
	// Current. It is nil when the field is Secret.
	Desired json.RawMessage
	// Secret: the field is a secret (clientSecret, or a provider field
	// holding one). Current and Desired are then nil; State still says
	// changed or unchanged when the read returns the secret, and unknown
	// when it does not.
	Secret bool
}

// Plan is the result of a successful Planner.Plan.
type Plan struct {
	// Fields holds one FieldPlan per field of the update, in Update.Fields
	// order.
	Fields []FieldPlan
	// Requests is the number of HTTP requests Plan made, all of them GETs
	// (0 for a provider without a read endpoint).
	Requests int
}
