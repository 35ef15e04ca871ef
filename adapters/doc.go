// Package adapters defines the contract between the worker and a provider
// adapter, the typed errors adapters classify failures with, and the registry
// that cmd fills explicitly by name.
//
// Adapters classify, the worker retries: an adapter never sleeps or retries;
// it returns an *Error whose Kind says whether the failure is permanent or
// retryable and, for rate limits, how long the provider asked to wait.
//
// Planner is the read-only side of the contract, for a migration's plan:
// Plan validates an update and reads the resource with GET requests only,
// sharing Apply's read, merge and comparisons, and returns per field whether
// Apply would change it (FieldChanged, FieldUnchanged, or FieldUnknown where
// the provider cannot show the value), with the current and desired values
// as JSON and never a secret's value. Every adapter in this module
// implements it; the worker does not use it.
//
// Adapters do not import OpenTelemetry: the worker hands each one an
// instrumented *http.Client through Connection.
package adapters
