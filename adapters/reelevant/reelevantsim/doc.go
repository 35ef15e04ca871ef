// Package reelevantsim simulates the part of Reelevant's datasources API
// that the reelevant adapter calls, as an http.Handler: PATCH
// /v2/datasources/oauth/{id} ("Update an OAuth client").
//
// It enforces the provider document (docs/providers/reelevant.txt) and
// the spec it is rendered from, with the two allOf branches of the request
// body merged as docs/providers/NOTES.md §1.2 and §6 say (taken literally, each
// branch's additionalProperties: false refuses every non-empty body):
//
//   - Authentication by Authorization: Bearer <token>, where token is
//     Options.Token (fixed) or an access token the token endpoint issued,
//     not expired (Options.TokenLifetime, checked on every call) nor revoked
//     (RevokeTokens); anything else is 401 with Reelevant's failure envelope
//     ({status: "fail", code: 401, message, data, program, version,
//     datetime}; docs/providers/NOTES.md §1.4).
//   - POST /v2/auth/token (TokenPath) takes JSON only {grant_type, client_id,
//     refresh_token} or {grant_type: "password", client_id, username,
//     password} and answers {access_token, token_type: "Bearer", expires_in}
//     (plus a new refresh_token, revoking the old one, with
//     Options.RotateRefreshTokens). A wrong client_id is 400 invalid_client,
//     a wrong refresh token or password 401 invalid_credentials, in the
//     failure envelope with RFC 6749's error and error_description.
//     FailToken scripts its failures; TokenRequests counts it.
//   - The id must match ^[0-9a-fA-F]{24}$: otherwise 400 status "fail" with
//     no error_code, data {field: "id"} (docs/providers/NOTES.md §1.4: the commonest
//     validation failure).
//   - The body must be one JSON object (Content-Type application/json)
//     whose keys are only the spec's properties: method (GET or POST), mode
//     (the AuthenticationMode enum), tokenUrl and authorizeUrl (strings
//     matching the spec's URL pattern), clientId, clientSecret, scopes
//     (string array), customPayload (an object with required tokenUrl and
//     authorizeUrl, each of optional query, body, headers string maps),
//     accessTokenPath, accessTokenHeader, accessTokenHeaderPrefix (strings),
//     tokenExpiration (a number) and configuration (the same twelve, nothing
//     required). Unknown keys at any level, wrong types, null, enums and
//     patterns are 400 status "fail" whose message names the field, with
//     data {field} or, for unknown keys, data {fields}. An empty object is a
//     valid PATCH that changes nothing.
//   - An id that is not stored is 404 status "fail", data {id}.
//   - Success is 200 with the document's envelope {status: "success",
//     program, version, datetime, message, data: {companyId,
//     resourceGroupIds, versions, archivedAt}, code: 200}. It never carries
//     the client secret, which is write-only.
//   - PATCH semantics: only the keys present change; each replaces the
//     stored value as a whole (configuration and customPayload included),
//     which is what a MongoDB $set of the body does. Reelevant does not
//     document the nested merge; see the reelevant package.
//   - Every other method or path is 404 {status: "fail", message: "Not
//     Found"}.
//   - Reelevant documents no rate limit for this API, so there is none by
//     default; Options.RateLimit adds one that answers 429 with Retry-After.
//
// Tests script failures with Fail (429 with Retry-After, 5xx, a failure
// envelope on any status, slow, garbage, connection reset), inspect every
// request with Requests and the stored object, secret included, with
// Client. A Server is safe for concurrent use; it works behind
// httptest.NewServer and mounted in a real server (under a prefix, wrap it
// with http.StripPrefix).
package reelevantsim
