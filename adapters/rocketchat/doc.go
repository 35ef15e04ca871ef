// Package rocketchat is the adapter for Rocket.Chat OAuth apps (provider
// name "rocketchat"), following docs/providers/rocketchat.txt and
// docs/providers/NOTES.md §3 and §6.
//
// Apply is a read-modify-write, because POST /api/v1/oauth-apps.update is a
// full replacement of name, active and redirectUri:
//
//  1. GET {base}/api/v1/oauth-apps.get?_id=<resource> → {oauthApp, success}.
//  2. Overlay the update. If name, active and redirectUri already hold the
//     values, return Unchanged (one request).
//  3. POST {base}/api/v1/oauth-apps.update with exactly
//     {"appId", "name", "active", "redirectUri"} (the server refuses any other
//     key) → the flat updated document with success:true (two requests).
//
// Plan (adapters.Planner) is steps 1 and 2 alone: the same read and
// overlay, then per field the comparison Apply makes (redirectUri in the
// normalized form, so a stored "a, b" holds "a,b"), with the stored value as
// Current and the value Apply would send as Desired; it never writes and is
// all unchanged exactly when Apply would be Unchanged.
//
// Invariants:
//
//   - Canonical fields name, redirectUri and active are supported; clientId
//     and clientSecret are refused as unsupported (Rocket.Chat generates them
//     and cannot change them), and so are description, scopes, authorizeUrl
//     and tokenUrl. Rocket.Chat has no provider-native fields: any
//     providerFields key is invalid.
//   - The resource id must look like a Rocket.Chat id (ResourcePattern) and
//     is only ever sent as a query value or a JSON string; the host is the
//     connection's base URL.
//   - Errors: 400 error-application-not-found / "OAuth app not found." and
//     oauthApp:null are KindNotFound; other 400s KindRejected with the
//     server's text; 401/403 KindUnauthorized; 429 KindRateLimited with the
//     wait from X-RateLimit-Reset (epoch ms) or the message's "wait N
//     seconds"; 5xx, a 2xx without success:true and an undecodable body
//     KindUnavailable.
//   - The credentials and the clientSecret the server echoes never reach an
//     error message: every message is scrubbed, and the secret is never
//     kept beyond the call.
//   - Apply never retries and never sleeps.
package rocketchat
