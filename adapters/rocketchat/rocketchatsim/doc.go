// Package rocketchatsim simulates the part of a Rocket.Chat server's REST API
// that the rocketchat adapter calls, as an http.Handler: GET
// /api/v1/oauth-apps.get and POST /api/v1/oauth-apps.update.
//
// It enforces the provider document (docs/providers/rocketchat.txt) and
// what docs/providers/NOTES.md §3 found in the server source, so that an adapter
// that passes against it follows the real server:
//
//   - Authentication by X-User-Id and X-Auth-Token: anything else is 401 with
//     the server's body. Options.ForbiddenUserID authenticates but lacks
//     manage-oauth-apps: the update is 403 [error-unauthorized] and the read
//     strips clientSecret, as the server does.
//   - The update body is exactly {appId, name, active, redirectUri}
//     (additionalProperties false): a missing or extra key or a wrong type
//     is 400 invalid-params; a blank name is error-invalid-name; a blank
//     redirectUri is error-invalid-redirectUri; an unknown appId is 400
//     error-application-not-found (never 404). redirectUri is parsed like the
//     server (split on "," or "\n", trimmed, empties dropped, joined with
//     ","). Success answers the flat updated document plus success:true,
//     echoing clientSecret, and bumps _updatedAt.
//   - The read takes exactly one of _id or clientId (400
//     error-invalid-params otherwise); not found is 400 "OAuth app not found.".
//   - Every other path is 404 {success:false, error:"Resource not found"}.
//   - Every response carries X-RateLimit-Limit, -Remaining and -Reset (epoch
//     milliseconds); over the limit is 429 [error-too-many-requests] with no
//     Retry-After.
//
// Tests script failures with Fail (429, 5xx, slow, garbage, connection
// reset) and inspect every request with Requests. A Server is safe for
// concurrent use; it works behind httptest.NewServer and mounted in a real
// server (under a prefix, wrap it with http.StripPrefix).
package rocketchatsim
