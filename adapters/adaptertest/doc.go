// Package adaptertest is the conformance suite every provider adapter runs
// against its provider's simulator (docs/STYLE.md §13): one Run, one Harness per
// provider, Features for what differs between providers.
//
// The suite checks the adapters.Adapter contract end to end over HTTP:
// supported fields land and untouched ones stay; an update the read already
// shows is Unchanged (providers with a read); not found, wrong credentials,
// 429 (with the provider's wait), 5xx, garbage, a reset connection, a slow
// answer past the client's timeout and the caller's cancellation are each
// classified with the right Kind; responses are size-capped; redirects are
// not followed; unsupported fields, unknown provider fields and bad ids are
// refused by Validate and Apply sends nothing; and no secret canary (the
// credentials, a client secret the provider echoes) appears in any error.
//
// When the adapter is an adapters.Planner, the Plan cases check the plan
// path: for each update, Plan on the seeded resource sends GET requests only
// (one with a read, none without) and writes nothing, lists every field in
// Update.Fields order as changed (unknown without a read), in the canonical
// shape, secrets without values and no canary in any value; after the
// Apply, every field is unchanged and Apply again Unchanged (with a read).
// Plan on a missing resource fails with Apply's kind; unauthorized, 429 and
// 5xx reads fail with their kinds after one request; a cancelled Plan sends
// nothing; concurrent Plans agree; unsupported fields, unknown provider
// fields and bad ids are refused without a request.
//
// A provider plugs in with a Sim (a small wrapper around its simulator) and
// Fixtures; see Harness. The suite starts its own httptest servers for the
// cases that need no provider behaviour (size cap, redirect).
package adaptertest
