// Package adapters defines the contract between the worker and a provider
// adapter, the typed errors adapters classify failures with, and the registry
// that cmd fills explicitly by name.
//
// Adapters classify, the worker retries: an adapter never sleeps or retries;
// it returns an *Error whose Kind says whether the failure is permanent or
// retryable and, for rate limits, how long the provider asked to wait.
//
// Adapters do not import OpenTelemetry: the worker hands each one an
// instrumented *http.Client through Connection.
package adapters
