// Package redact keeps secrets out of text that leaves the process: result
// error messages, log lines, dead-letter headers, span attributes, syncctl
// output and migration reports.
//
// A Scrubber is built from the secret values a component knows (connection
// credentials, a command's client secret, provider-native secret fields,
// passwords in NATS/Redis URLs) and replaces, in any text, every occurrence
// of any of these forms of each secret with Marker:
//
//   - the value itself;
//   - JSON-escaped (with and without HTML escaping);
//   - URL query-escaped and path-escaped;
//   - base64 in the standard and URL alphabets, padded or raw, including the
//     secret's bytes inside a longer base64 blob (e.g. Basic auth
//     "user:secret"): for each of the three byte alignments the characters
//     that only the secret's bits determine are a form;
//   - lower-case hex;
//
// matched case-insensitively (ASCII letters), and not only whole: any run of
// at least MinRun(len(secret)) bytes of a form is redacted, so a provider
// that truncates or splits the secret does not leak a part of it. MinRun is
// 8 bytes for secrets of 16 bytes or more, half the secret (rounded up, at
// least 4) for shorter ones; a secret shorter than 4 bytes is redacted only
// in its whole forms.
//
// Matching packs each window of k ≤ 8 bytes into a uint64 and looks it up
// in a set of the forms' k-grams (behind a bitmap filter), one rolling pass
// per distinct k: linear in the text, and without allocation when nothing
// matches. Matches that overlap are merged into one Marker.
//
// The package also names secrets where no value is known: SecretKey tells a
// JSON key or header name that holds a secret (password, api_key,
// Authorization, X-Api-Key, ...), SecretsInJSON collects the strings under
// such keys, and URL / URLsInText hide the user information of URLs.
//
// It needs only the standard library, so that every layer may use it.
package redact
