// Package commandfile reads migration files for syncctl: NDJSON (one
// command per line, a full CloudEvent or a short form) or CSV with a column
// mapping. Every line is validated with the worker's own decoder (and,
// optionally, the provider adapter's Validate), so a line is refused before
// publishing exactly when the worker would refuse it. Errors name the line,
// the field and the reason, never a value, so a secret in a file never
// reaches a terminal through an error. Lines without an id get a
// deterministic one (DerivedID), which is what makes a migration resumable.
package commandfile
