package messages

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// DigestPrefix starts every payload digest: "sha256:" and 64 lowercase hex digits.
const DigestPrefix = "sha256:"

// SecretPrefix starts the string that replaces a secret's value in the
// canonical payload: "hmac-sha256:" and the 64 lowercase hex digits of
// HMAC-SHA256(digest key, the secret's UTF-8 bytes).
const SecretPrefix = "hmac-sha256:"

// ErrNoDigestKey is returned when a payload holds a secret but no digest
// key was given: a secret enters a digest only keyed.
var ErrNoDigestKey = errors.New("messages: the payload holds a secret and no digest key was given")

// PayloadDigest identifies what the command asks for (docs/payload-digest.md):
// "sha256:" and the lowercase hex SHA-256 of the canonical payload, the
// RFC 8785 (JCS) form of
//
//	{"connection": …, "data": {"changes": …, "providerFields": …, "sequence": …}, "resource": …, "type": …}
//
// where data is the command's data (changes always present, {} when
// empty; providerFields omitted when empty; sequence omitted when absent)
// and every secret member at any depth of data (a member whose name,
// lowercased without '-' and '_', is clientsecret, secret, password,
// passwd, apikey, apisecret, privatekey, accesstoken, refreshtoken, token
// or authorization, and whose value is a string) has its value replaced by
// "hmac-sha256:" + hex(HMAC-SHA256(key, value)).
//
// So a command without secrets has a digest anyone can compute, and the
// digest of a command with a secret cannot be used to test a guess of the
// secret without the key. It returns ErrNoDigestKey when the command holds
// a secret and key is empty.
//
// It does not depend on the command's id, time, source, batch, specversion
// or datacontenttype, nor on key order, whitespace, string escapes or how
// a number is written; it changes with connection, resource, sequence, any
// change and any provider field. The worker uses it to tell a duplicate of
// a command (same id, same digest) from an id reused for another payload
// (id_conflict), and puts it on every result (Result.PayloadDigest).
func (c *Command) PayloadDigest(key []byte) (string, error) {
	payload, err := c.canonicalPayload(key)
	if err != nil {
		return "", err
	}
	return digestOf(payload), nil
}

// InvalidBodyDigest is the payload digest of a refused command whose ids
// could be read (the rejected result of an invalid command): a body that
// is not a valid command has no canonical payload, and may hold a secret
// anywhere, so the whole body enters keyed. It is the digest of the
// canonical payload {"invalidBody": "hmac-sha256:" + hex(HMAC-SHA256(key, body))}.
// It returns ErrNoDigestKey when key is empty.
func InvalidBodyDigest(key, body []byte) (string, error) {
	if len(key) == 0 {
		return "", ErrNoDigestKey
	}
	payload := appendJCSString([]byte(`{"invalidBody":`), keyed(key, body))
	return digestOf(append(payload, '}')), nil
}

// CanonicalPayload returns the canonical payload PayloadDigest hashes,
// secrets replaced: what docs/payload-digest.md shows for its vectors.
func (c *Command) CanonicalPayload(key []byte) ([]byte, error) { return c.canonicalPayload(key) }

func digestOf(payload []byte) string {
	sum := sha256.Sum256(payload)
	return DigestPrefix + hex.EncodeToString(sum[:])
}

// keyed is the string that stands for the secret value in a canonical payload.
func keyed(key, value []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(value)
	return SecretPrefix + hex.EncodeToString(m.Sum(nil))
}

// canonicalPayload is the canonical payload hashed by PayloadDigest.
func (c *Command) canonicalPayload(key []byte) ([]byte, error) {
	changes := c.Data.Changes
	if changes.Scopes != nil && *changes.Scopes == nil {
		empty := []string{}
		changes.Scopes = &empty // a nil list and an empty one both clear the scopes
	}
	var pf map[string]json.RawMessage
	if len(c.Data.ProviderFields) > 0 {
		pf = c.Data.ProviderFields
	}
	payload := struct {
		Connection string `json:"connection"`
		Data       struct {
			Changes        Changes                    `json:"changes"`
			ProviderFields map[string]json.RawMessage `json:"providerFields,omitempty"`
			Sequence       *int64                     `json:"sequence,omitempty"`
		} `json:"data"`
		Resource string `json:"resource"`
		Type     string `json:"type"`
	}{Connection: c.Connection, Resource: c.Resource, Type: c.Type}
	payload.Data.Changes = changes
	payload.Data.ProviderFields = pf
	payload.Data.Sequence = c.Data.Sequence
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("messages: payload digest: provider fields are not valid JSON: %w", err)
	}
	canon := canonicalizer{out: make([]byte, 0, len(raw))}
	missingKey := false
	canon.secret = func(v []byte) string {
		if len(key) == 0 {
			missingKey = true
			return ""
		}
		return keyed(key, v)
	}
	if err := canon.write(raw, 0); err != nil {
		return nil, fmt.Errorf("messages: payload digest: data %w", err)
	}
	if missingKey {
		return nil, ErrNoDigestKey
	}
	return canon.out, nil
}
