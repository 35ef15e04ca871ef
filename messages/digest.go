package messages

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
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
	canon := getCanonicalizer()
	defer putCanonicalizer(canon)
	payload, err := c.canonicalPayload(canon, key)
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
func (c *Command) CanonicalPayload(key []byte) ([]byte, error) {
	var canon canonicalizer
	return c.canonicalPayload(&canon, key)
}

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

// canonicalPayload is the canonical payload hashed by PayloadDigest. The
// payload is written as JSON in any member order, then canonicalised with
// its secrets replaced, in one pass each.
func (c *Command) canonicalPayload(canon *canonicalizer, key []byte) ([]byte, error) {
	changes := c.Data.Changes
	if changes.Scopes != nil && *changes.Scopes == nil {
		empty := []string{}
		changes.Scopes = &empty // a nil list and an empty one both clear the scopes
	}
	ch, err := json.Marshal(changes)
	if err != nil {
		return nil, fmt.Errorf("messages: payload digest: %w", err)
	}
	size := len(ch) + len(c.Connection) + len(c.Resource) + len(c.Type) + 128
	for k, v := range c.Data.ProviderFields {
		size += len(k) + len(v) + 8
	}
	raw := slices.Grow(canon.in[:0], size)
	raw = append(raw, `{"connection":`...)
	raw = appendJCSString(raw, c.Connection)
	raw = append(raw, `,"data":{"changes":`...)
	raw = append(raw, ch...)
	if len(c.Data.ProviderFields) > 0 {
		raw = append(raw, `,"providerFields":{`...)
		n := 0
		for k, v := range c.Data.ProviderFields { // any order: canonicalising sorts
			v = bytes.TrimSpace(v)
			if len(v) == 0 || !utf8.Valid(v) || !utf8.ValidString(k) {
				return nil, fmt.Errorf("messages: payload digest: provider field %s is not valid UTF-8 JSON", keySegment(k)[1:])
			}
			if end, err := scanValue(v, 0, 3); err != nil || end != len(v) {
				return nil, fmt.Errorf("messages: payload digest: provider field %s is not one valid JSON value", keySegment(k)[1:])
			}
			if n > 0 {
				raw = append(raw, ',')
			}
			n++
			raw = appendJCSString(raw, k)
			raw = append(raw, ':')
			raw = append(raw, v...)
		}
		raw = append(raw, '}')
	}
	if c.Data.Sequence != nil {
		raw = append(raw, `,"sequence":`...)
		raw = strconv.AppendInt(raw, *c.Data.Sequence, 10)
	}
	raw = append(raw, `},"resource":`...)
	raw = appendJCSString(raw, c.Resource)
	raw = append(raw, `,"type":`...)
	raw = appendJCSString(raw, c.Type)
	raw = append(raw, '}')

	canon.in = raw
	canon.out = slices.Grow(canon.out[:0], len(raw))
	missingKey := false
	canon.secret = func(v []byte) string {
		if len(key) == 0 {
			missingKey = true
			return ""
		}
		return keyed(key, v)
	}
	if err := canon.write(raw, 0, true); err != nil { // each part is valid
		return nil, fmt.Errorf("messages: payload digest: data %w", err)
	}
	if missingKey {
		return nil, ErrNoDigestKey
	}
	return canon.out, nil
}
