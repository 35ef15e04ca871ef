// Package jframework is the adapter for jframework app integration
// authentications (provider name "jframework"), following
// docs/providers/jframework.txt and docs/providers/NOTES.md §4 and §6.
//
// The connection's auth takes brandURL, sent as Brand-URL, and either
// authKey, a fixed Auth-Key, or username and password: the adapter then logs
// in itself (POST {baseURL}/api/v1/users/auth with Brand-URL and JSON
// {username, password}, answered by {success, data: {authKey,
// refreshAuthKey, expiresIn}}; docs/providers/NOTES.md §4.4) and keeps the
// key until shortly before expiresIn runs out (adapters/internal/tokenauth:
// one login at a time for every call in flight, rate-limited). A 401 on the
// read or the write logs in again once and repeats that request once; the
// SDK's refresh-auth-key is not implemented by jframework, so refreshAuthKey
// is only scrubbed, never used. A login refused for good (a 4xx, or
// success:false with a 4xx statusCode) is KindUnauthorized with the
// provider's error codes and texts, and is not retried for
// tokenauth.DefaultFailureHold. Brand-URL and Auth-Key go (with
// Content-Type and Accept application/json) on every call.
//
// Apply is a read-modify-write, because PUT
// /api/v1/app-integrations/authentication/{id} replaces the whole object
// (the overview: PUT is "used to replace objects"), clearing what it omits:
//
//  1. GET {base}/api/v1/app-integrations/authentication/{id} →
//     {success, statusCode, message, data, errors}; data holds every field,
//     clientSecret included, and the app integration as data.appIntegration
//     (whose id is the PUT's appIntegrationId).
//  2. Overlay the update. If the read already shows every value, return
//     Unchanged (one request).
//  3. PUT the same path with every required field (appIntegrationId, code,
//     name, projectId, clientId, clientSecret, redirectURI, scope) and every
//     optional one carried over (authEndpoint, tokenEndpoint, iconURL, tags
//     and description, null when there is no value; status and isDefault
//     whenever the read shows them), then check success (two requests).
//
// Plan (adapters.Planner) is steps 1 and 2 alone: the same read, the same
// per-field comparison (fieldInPlace) and, when a write would be needed, the
// same merge, whose refusal is Plan's error too. Current is the read's value
// in the canonical shape (scope split into scopes; status as active, true
// for Active and false for Inactive); clientSecret is reported without
// values, FieldUnknown when the read does not return it. It never writes and
// is all unchanged exactly when Apply would be Unchanged.
//
// Fields. Canonical changes map to native fields: name → name, description
// → description, clientId → clientId, clientSecret → clientSecret,
// redirectUri → redirectURI, scopes → scope (space-joined), authorizeUrl →
// authEndpoint, tokenUrl → tokenEndpoint, active → status (Active or
// Inactive). jframework has a place for every canonical field. The
// provider-native fields are appIntegrationId, code and projectId (non-empty
// strings), iconURL (an absolute URI or null), tags (a string or null),
// status ("Active" or "Inactive") and isDefault (a boolean). Validate refuses,
// as KindInvalid naming the field:
//
//   - a native field that a canonical field maps to (name, description,
//     clientId, clientSecret, redirectURI, scope, authEndpoint,
//     tokenEndpoint), or a canonical name, under providerFields: the message
//     names the canonical field to use instead;
//   - canonical active together with providerFields.status: both set
//     status, so the command contradicts itself or says one thing twice;
//     it is refused as a conflict rather than one of them winning;
//   - an unknown provider field, a wrong JSON type, an empty required
//     string, a status outside the enum, a URI that is not absolute, a scope
//     that is empty or holds whitespace (it could not survive the join);
//   - a resource id outside ResourcePattern.
//
// A required field the read does not return (or returns empty), which the
// update does not set either, makes the PUT impossible: Apply refuses the
// update (KindRejected, naming the field) rather than inventing a value.
//
// Errors. Every answer's envelope is checked: a 2xx without success:true is
// a failure, classified by its statusCode (and error codes) when it has one,
// else KindUnavailable. HTTP 209 (the feature usage limit) is the
// provider's wait signal: KindRateLimited with RetryAfter from
// X-RateLimit-Reset, or UsageLimitWait without one; the worker holds the
// whole fleet's calls that long. 400 and 409 are
// KindRejected; 401 and 403 KindUnauthorized; 404 (and
// AppIntegrationAuthenticationNotFound / AppIntegrationNotFound) KindNotFound;
// 429 KindRateLimited with RetryAfter from X-RateLimit-Reset in epoch
// seconds; 5xx, network failures and undecodable answers KindUnavailable.
// Messages carry the provider's text with each errors[] code and
// correlationId.
//
// Secrets. The brand URL, the Auth-Key, the clientSecret the read returns
// and the clientSecret a command carries are scrubbed from every message;
// the secret is kept only for the call.
//
// Apply never retries and never sleeps. The provider has no version field,
// so the write is last-writer-wins; the worker never runs two Applies on one
// resource at once.
package jframework
