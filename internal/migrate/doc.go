// Package migrate runs a batch migration for syncctl: it publishes the
// validated lines of a migration file to the commands stream (with
// Nats-Msg-Id, at a capped rate, with a bounded number of publishes awaiting
// their ack), follows the results stream for their results, reports
// progress, and summarises one outcome per line.
//
// A run is resumable: before publishing it reads the results stream from
// the start and skips every line that already has a result (the command id
// is the key, so ids must be stable across runs; commandfile derives them
// from the batch, the line number and the line). A line published by an
// interrupted run but not yet answered is published again; JetStream's
// duplicate window or the worker's dedup store keeps it to one effect.
package migrate
