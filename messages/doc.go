// Package messages defines oauthsync's wire contract: the update command and
// the result event (CloudEvents 1.0, structured JSON mode), their subjects,
// strict decoding and the JSON Schemas published for other languages.
//
// Invariants:
//   - messages depends on the standard library only.
//   - DecodeCommand never returns a Command that violates CONTRACT §3: size is
//     checked before decoding, unknown keys are refused, subject tokens and
//     body agree, ids match their charset and canonical fields are typed.
//   - A client secret is held as a Secret, which never prints its value
//     (fmt, slog); only its JSON encoding, used on the wire, carries it.
package messages
