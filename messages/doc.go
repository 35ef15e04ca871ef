// Package messages defines oauthsync's wire contract: the update command and
// the result event (CloudEvents 1.0, structured JSON mode), their subjects,
// strict decoding and the JSON Schemas published for other languages
// (CommandSchema, ResultSchema).
//
// Invariants:
//   - messages depends on the standard library only.
//   - DecodeCommand never returns a Command that violates docs/CONTRACT.md §3: size is
//     checked before decoding, unknown and duplicate keys are refused, subject
//     tokens and body agree, ids match their charset and canonical fields are
//     typed. Its refusals are *InvalidError values naming the JSON path, and
//     carry the ids that could be read so a rejected result can be published.
//   - Every command DecodeCommand accepts matches CommandSchema; every event
//     EncodeResultEvent produces matches ResultSchema and decodes again with
//     DecodeResultEvent.
//   - A command's PayloadDigest depends only on what it asks for (type,
//     connection, resource, data), never on its id, time, source, batch or
//     formatting (docs/payload-digest.md); a secret enters it only as an
//     HMAC under the deployment's digest key. A result event's id derives
//     only from the command id.
//   - Deciding a command costs time and memory linear in its size: nesting
//     beyond MaxDepth is refused by a byte scan before decoding, values are
//     scanned without copies, and field paths are built only for errors.
//   - A client secret is held as a Secret, which never prints its value
//     (fmt, slog); only its JSON encoding, used on the wire, carries it.
//     Command, Data and Changes log field names only (slog.LogValuer), and
//     no InvalidError quotes a value of data.changes or data.providerFields.
package messages
