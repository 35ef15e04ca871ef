// Package hybriddatapipeline is the adapter for Progress DataDirect Hybrid
// Data Pipeline (HDP) 5.0 OAuth application objects (provider name
// "hybriddatapipeline"), following docs/providers/hybriddatapipeline.txt
// and docs/providers/NOTES.md §2 and §6.
//
// Apply is a read-modify-write, because PUT /api/mgmt/oauthapps/{id} is a
// full replacement:
//
//  1. GET {base}/api/mgmt/oauthapps/{id} → the whole object, clientSecret
//     included.
//  2. Overlay the update. If the read already shows every value the update
//     sets, return Unchanged (one request).
//  3. PUT {base}/api/mgmt/oauthapps/{id} with the whole object, {"name",
//     "dataStore", "tenantId", "description", "clientId", "clientSecret",
//     "authorizeURI", "tokenURI", "scope"} → 200 with the object (two
//     requests).
//
// Plan (adapters.Planner) is steps 1 and 2 alone: the same read, the same
// per-field comparison (holdsField) and, when a write would be needed, the
// same merge, whose refusal is Plan's error too. Current is the read's value
// in the canonical shape (scope split into scopes, ids as integers);
// clientSecret is reported without values, FieldUnknown when the read does
// not show it in clear. It never writes and is all unchanged exactly when
// Apply would be Unchanged.
//
// Invariants:
//
//   - Authentication is HTTP Basic with the connection's username and
//     password (auth keys "username" and "password").
//   - Canonical fields name, description, clientId, clientSecret, scopes
//     (sent as "scope", space-joined), authorizeUrl ("authorizeURI") and
//     tokenUrl ("tokenURI") are supported; redirectUri and active are
//     refused as unsupported. name must match NamePattern (the document's
//     "only alphanumeric characters and the underscore character"; it gives
//     no length limit).
//   - Provider fields: dataStore and tenantId, positive JSON integers
//     (strings, fractions, exponents, zero and negatives are refused). HDP's
//     own names of canonical fields (scope, authorizeURI, tokenURI, name,
//     description, clientId, clientSecret) are refused with a pointer to the
//     canonical field; id is the resource; anything else is unknown.
//   - The resource id must match ResourcePattern (a positive decimal
//     integer, the document's "automatically generated OAuth application
//     ID") and is only ever sent as one escaped path segment of the
//     connection's base URL.
//   - tenantId is always carried over from the read: a PUT without it moves
//     the object to the tenant of the authenticated user. A read without
//     tenantId, or without a field the PUT requires (name, dataStore,
//     clientId, clientSecret in clear, authorizeURI, tokenURI, scope), is
//     refused with KindRejected naming the field unless the update sets it.
//   - Errors, from HDP's {"error":{"code":N,"message":{"lang","value"}}}:
//     400 and 501 KindRejected; 401/403 KindUnauthorized; 404 KindNotFound;
//     429 (not documented; a proxy may send it) KindRateLimited with the
//     Retry-After wait; 500, 502–504, network errors and a 2xx whose body
//     is not the expected object KindUnavailable. Every message carries the
//     server's text and code.
//   - The credentials (username, password and the encoded Authorization
//     value) and the client secrets (the one the read returns and the one
//     the update carries) never reach an error message: every message is
//     scrubbed, and the read's secret is never kept beyond the call.
//   - Apply never retries and never sleeps.
package hybriddatapipeline
