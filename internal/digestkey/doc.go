// Package digestkey keeps the fleet's payload digest key: 32 random bytes
// with which secret values enter a command's payload digest
// (messages.Command.PayloadDigest, docs/payload-digest.md).
//
// The key lives in a JetStream key-value bucket (default "SYNC_KEYS", key
// "payload-digest", file storage, one revision kept), so that every worker
// and syncctl compute the same digests. The first worker to start
// generates it: Ensure creates the bucket and the key idempotently
// (KeyValue.Create, and a read back when another process won the race);
// Load only reads it. The key is stored as 64 lowercase hex digits.
//
// Anyone who can read the bucket can test guesses of the secrets in
// digests; restrict it like the commands stream itself. Replacing the key
// changes the digest of every command with a secret: a duplicate of such a
// command finished before the change is then refused as an id_conflict.
package digestkey
