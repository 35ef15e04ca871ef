// Package hdpsim simulates the part of a Progress Hybrid Data Pipeline 5.0
// server's management API that the hybriddatapipeline adapter calls, as an
// http.Handler: GET and PUT /api/mgmt/oauthapps/{id}.
//
// It enforces the provider document (docs/providers/hybriddatapipeline.txt)
// and docs/providers/NOTES.md §2, so that an adapter that passes against it
// follows the real server:
//
//   - HTTP Basic authentication with Options.Username and Password:
//     anything else is 401 with WWW-Authenticate and HDP's error envelope
//     {"error":{"code":N,"message":{"lang":"en-US","value":"..."}}}.
//   - GET answers the whole object, clientSecret included (in clear, or
//     MaskedSecret with Options.MaskSecrets), with the id as a string.
//   - PUT is a full replacement: the body must be application/json and an
//     object of the document's properties only (an unknown key is 400);
//     name, dataStore, clientId, clientSecret, authorizeURI, tokenURI and
//     scope are required and non-empty (400 naming the field); name matches
//     NamePattern; dataStore and tenantId are positive JSON integers;
//     authorizeURI and tokenURI are absolute URLs. The stored object becomes
//     the body: an omitted description is cleared and an omitted tenantId
//     is the user's own tenant (Options.UserTenantID), as the document says.
//     Success answers 200 with the stored object.
//   - An unknown or non-numeric id is 404 with the envelope; another method
//     on an object is 405; any other path is 404.
//   - HDP documents no rate limit; Options.RateLimit adds one (429 with
//     Retry-After), as a proxy in front of HDP might.
//
// Tests script failures with Fail (any status with the envelope, 429 with
// Retry-After, slow, garbage, connection reset) and inspect every request
// with Requests. A Server is safe for concurrent use; it works behind
// httptest.NewServer and mounted in a real server (under a prefix, wrap it
// with http.StripPrefix).
package hdpsim
