// Package jframeworksim simulates the part of jframework's REST API that the
// jframework adapter calls, as an http.Handler: GET and PUT on
// /api/v1/app-integrations/authentication/{id}, and the login.
//
// It enforces the provider document (docs/providers/jframework.txt) and
// what docs/providers/NOTES.md §4 found in jframework's public docs and SDK, so
// that an adapter that passes against it follows the real API:
//
//   - Authentication by Brand-URL and Auth-Key, where the key is
//     Options.AuthKey (fixed) or one a login issued, not expired
//     (Options.KeyLifetime, checked on every call) nor revoked (RevokeKeys):
//     anything else is 401 with jframework's envelope {success:false,
//     statusCode, message, data:null, errors:[{code, message,
//     correlationId}]}.
//   - POST /api/v1/users/auth (LoginPath) with Brand-URL and JSON {username,
//     password} answers {success:true, data:{authKey, refreshAuthKey,
//     expiresIn}} (seconds); wrong credentials are 401 InvalidCredentials.
//     Logins counts it; Fault{Path: LoginPath} scripts its failures.
//   - GET answers {success:true, statusCode:200, message, data, errors:[]},
//     data as in the read page's example: appIntegration {type, name,
//     domain, description, logoURL, status, id}, then isDefault, status,
//     description, tags, iconURL, tokenEndpoint, id, authEndpoint,
//     redirectURI, clientSecret (the secret is returned), clientId,
//     projectId, name, code and scope. An unknown id is 404
//     AppIntegrationAuthenticationNotFound.
//   - PUT is a full replacement. The body must be a JSON object
//     (Content-Type application/json, else 415) holding the eight required
//     non-empty strings (appIntegrationId, code, name, projectId, clientId,
//     clientSecret, redirectURI, scope); authEndpoint, tokenEndpoint and
//     iconURL must be absolute URIs or null; tags and description strings or
//     null; status "Active" or "Inactive"; isDefault a boolean; any other
//     key is refused. Every problem is one errors[] entry of a 400. An
//     unknown id is 404 AppIntegrationAuthenticationNotFound, an unknown
//     appIntegrationId 404 AppIntegrationNotFound. What the body leaves out
//     is cleared: nullable fields become null, isDefault false (its
//     documented default) and status Inactive (the enum's first value; the
//     documents do not say what the server does, this is the simulator's
//     reading of a .NET enum default). Success answers the updated object.
//   - Other paths are an empty 404, other methods an empty 405.
//   - Every answer carries X-RateLimit-Limit, -Remaining and -Reset (epoch
//     seconds, rounded up); over the limit (per Auth-Key) is 429
//     RateLimitExceeded with no Retry-After.
//
// Error codes the documents do not name (for 401, 400 validation, 209, 500)
// are the simulator's own; see the Code constants.
//
// Tests script failures with Fail (429, any status with its envelope, 209
// usage limit, 200 with success:false, slow, garbage, connection reset) and
// inspect every request with Requests. A Server is safe for concurrent use;
// it works behind httptest.NewServer and mounted in a real server (under a
// prefix, wrap it with http.StripPrefix).
package jframeworksim
