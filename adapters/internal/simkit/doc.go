// Package simkit is the plumbing the provider simulators share: request
// recording (Recorder), scripted faults (FaultQueue), a fixed-window rate
// counter (RateWindow), waiting that honours a request's context (Sleep),
// dropping a connection without an answer (ResetConnection), JSON answers
// (JSONWriter) and random identifiers (RandomString).
//
// What a provider answers — its routes, its error envelopes, its header
// names, which fault wins — stays in that provider's simulator; simkit holds
// only what is the same for all of them.
//
// Invariants: Recorder, FaultQueue and RateWindow are safe for concurrent
// use, each behind its own mutex; a Recorder hands out deep copies, so a
// caller never shares memory with what it recorded; a FaultQueue gives each
// queued fault to exactly one request, in the order the faults were queued.
package simkit
