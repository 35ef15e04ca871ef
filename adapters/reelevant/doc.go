// Package reelevant is the adapter for Reelevant OAuth clients (provider
// name "reelevant"), following docs/providers/reelevant.txt, the spec it
// is rendered from (reelevant-tech/product-documentation:
// api-reference/openapi/datasources-api.json, operation update-oauth-client;
// its OAuth subset is docs/providers/specs/reelevant-oauth-subset.json,
// against which the conformance test validates every request) and
// docs/providers/NOTES.md §1 and §6.
//
// Apply is one call, a true partial update with no read:
//
//	PATCH {base}/v2/datasources/oauth/{id}
//	Authorization: Bearer <bearerToken>
//	Content-Type: application/json
//	{only the fields the update carries}
//
// and the answer is Reelevant's envelope {status, program, version,
// datetime, message, data, code}: status "success" is Applied with one
// request. There is no read, so Apply never returns Unchanged: Reelevant's
// API has no GET for one OAuth client, and its clientSecret is write-only, so
// a read could not show every value anyway. Applying the same update twice
// sends the same PATCH twice, which leaves the same state (idempotent).
//
// Plan (adapters.Planner) cannot read either: it validates the update as
// Apply does, makes no request, and reports every field FieldUnknown with
// Desired, the value the PATCH would carry (clientSecret and a configuration
// holding a clientSecret as secrets, without it). It cannot tell that the
// resource is missing or the token refused; only the PATCH can.
//
// # Fields
//
// Canonical changes map to the body's own names: clientId, clientSecret,
// scopes (a string array; an empty list is sent as []), authorizeUrl and
// tokenUrl (both must match the spec's pattern). name, description,
// redirectUri and active have no place in Reelevant and are refused as
// unsupported, never dropped.
//
// Provider fields (data.providerFields) are checked against the spec's
// schema without I/O: mode (AuthenticationMode: password,
// client_credentials, refresh_token, access_token, custom_payload,
// jwt_bearer), method, customPayload, accessTokenPath, accessTokenHeader,
// accessTokenHeaderPrefix (strings), tokenExpiration (a number) and
// configuration (an object of the same twelve fields, checked by the same
// functions; nothing else, not even a nested configuration). Every object
// refuses unknown keys (additionalProperties: false), null is never a value,
// and duplicate keys are refused at any depth, so what is validated is what
// is sent. Messages name the field by its path
// (providerFields.configuration.customPayload.tokenUrl.query) and quote no
// value but an enum's and the resource id.
//
// # Choices where the document, the spec and the notes disagree
//
//   - method: the document says "method Available options: GET"; the spec
//     has oneOf [{enum: [GET]}, {enum: [POST]}] (docs/providers/NOTES.md §1.2). GET and POST
//     are both accepted: the document is a rendering of that oneOf that
//     shows one branch, refusing POST would refuse a value the provider
//     takes (a token endpoint usually wants POST), and if the provider did
//     refuse it, its 400 would be a permanent rejection anyway.
//   - customPayload: the document says only "customPayload object" with the
//     example "{ payload: { query: { access_type: 'offline' } } }", a string
//     that is not even an object. The spec's schema is followed: an object
//     with required tokenUrl and authorizeUrl, each an object of optional
//     query, body and headers maps of strings, additionalProperties false at
//     every level.
//   - Native names of canonical fields (providerFields.clientId,
//     clientSecret, scopes, authorizeUrl, tokenUrl) are refused as invalid,
//     with a message that points to the canonical field: each field has one
//     way in, so a canonical field and its native duplicate can never both
//     reach the body. Inside providerFields.configuration those names are
//     the configuration's own fields (a different place in the body) and
//     are accepted; configuration.clientSecret is treated as a secret.
//   - configuration: the spec's two allOf branches have no required list
//     (docs/providers/NOTES.md §1.2), so nothing in it is required. Whether Reelevant merges a
//     configuration into the stored one or replaces it is not documented
//     (docs/providers/NOTES.md §6); the simulator replaces it, the safe assumption: send the
//     whole configuration, clientSecret included, because it cannot be read
//     back.
//   - tokenUrl and authorizeUrl are checked with URLPattern, the spec's
//     ECMAScript pattern ^(https?):\/\/[^\s$.?#].([^\s]|\x20)*$ translated to
//     Go with ECMAScript's meaning of \s and "."; the canonical fields are
//     checked the same way.
//   - The 200 answer's data in the document ({companyId, resourceGroupIds,
//     versions, archivedAt}) is a spec-generator artefact (docs/providers/NOTES.md §1.2); only
//     status is checked.
//
// # Errors
//
// Non-2xx answers are classified by HTTP status, with the envelope's
// message, error_code and data as the provider's text: 400 and 409
// KindRejected; 401 and 403 KindUnauthorized; 404 KindNotFound, whose
// message says that Reelevant also answers 404 when the token lacks write
// permission on the object (docs/providers/NOTES.md §1.3); 429 KindRateLimited with the wait
// from Retry-After when one is sent (Reelevant documents none; docs/providers/NOTES.md §1.4);
// 408 KindTimeout; 5xx (status "error") KindUnavailable; a 3xx (redirects
// are never followed) KindRejected. A 2xx is a success only with status
// "success" and no error_code: status "fail" or an error_code is
// KindRejected, status "error", another status or a body that is not a JSON
// object KindUnavailable. Network failures, resets and slow answers are
// classified by httpx (KindUnavailable, KindTimeout).
//
// # Credentials
//
// The connection's auth is either bearerToken, a fixed access token used as
// given (a 401 is then KindUnauthorized at once: nothing can renew it), or
// what the adapter needs to obtain access tokens itself (docs/CONTRACT.md §6,
// docs/providers/NOTES.md §1.4): tokenURL and clientId, with refreshToken
// (grant refresh_token) or username and password (grant password). The
// token request is
//
//	POST {tokenURL}
//	Content-Type: application/json
//	{"grant_type": "refresh_token", "client_id": …, "refresh_token": …}
//
// answered by RFC 6749's token response (access_token, token_type Bearer,
// expires_in, optionally a new refresh_token, which replaces the configured
// one for the life of the process). Tokens are cached and shared through
// adapters/internal/tokenauth: renewed a tenth of their lifetime (at most a
// minute) before expiry, one request at a time for every call in flight,
// rate-limited, renewed once on a 401 and the PATCH retried once (Outcome.
// Requests then counts both). A token endpoint that answers 4xx (other than
// 408 and 429: invalid_client, invalid_credentials, a wrong tokenURL) refused
// the credentials: KindUnauthorized with the provider's error and
// error_description, and no new request for tokenauth.DefaultFailureHold; 429,
// 5xx and network failures are retryable. Token requests carry
// adapters.WithTokenRequest, so the worker counts them apart.
//
// Invariants:
//
//   - The resource id must match ^[0-9a-fA-F]{24}$ (ResourcePattern) before
//     anything is sent; the host is the connection's base URL.
//   - The credentials (access tokens, refresh tokens, password) and every
//     client secret an update carries (clientSecret,
//     configuration.clientSecret) are scrubbed from every error message,
//     even though Reelevant never returns a secret; Secrets() returns the
//     credentials in use for the worker's own scrubber.
//   - Apply never retries and never sleeps; it is safe for concurrent use.
package reelevant
