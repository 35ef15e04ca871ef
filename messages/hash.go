package messages

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// PayloadHash identifies what the command asks for: the lowercase hex
// SHA-256 of a canonical JSON of its type, connection, resource and data.
// Provider field values are canonicalized (object keys sorted, whitespace
// and string escapes normalized; numbers compare by their literal).
//
// It does not depend on the command's id, time, source, batch, specversion
// or datacontenttype, nor on key order or whitespace in the body; it changes
// with connection, resource, sequence, any change and any provider field.
// The worker compares it to tell a duplicate of a command (same id, same
// hash) from an id reused for another payload (id_conflict).
//
// The hash covers the client secret, so it is a verifier of that secret;
// callers show at most a prefix of it (see ConflictEventID).
func (c *Command) PayloadHash() string {
	sum := sha256.Sum256(c.canonicalPayload())
	return hex.EncodeToString(sum[:])
}

// canonicalPayload is the JSON hashed by PayloadHash.
func (c *Command) canonicalPayload() []byte {
	changes := c.Data.Changes
	if changes.Scopes != nil && *changes.Scopes == nil {
		empty := []string{}
		changes.Scopes = &empty // a nil list and an empty one both clear the scopes
	}
	var pf map[string]json.RawMessage
	if len(c.Data.ProviderFields) > 0 {
		pf = make(map[string]json.RawMessage, len(c.Data.ProviderFields))
		for k, v := range c.Data.ProviderFields {
			cv, err := canonicalJSON(v)
			if err != nil {
				// Not produced by DecodeCommand; hash the raw bytes, deterministically.
				cv, _ = json.Marshal(map[string]string{"invalidJSON": string(v)})
			}
			pf[k] = cv
		}
	}
	payload := struct {
		Connection string `json:"connection"`
		Data       struct {
			Changes        Changes                    `json:"changes"`
			ProviderFields map[string]json.RawMessage `json:"providerFields"`
			Sequence       *int64                     `json:"sequence"`
		} `json:"data"`
		Resource string `json:"resource"`
		Type     string `json:"type"`
	}{Connection: c.Connection, Resource: c.Resource, Type: c.Type}
	payload.Data.Changes = changes
	payload.Data.ProviderFields = pf
	payload.Data.Sequence = c.Data.Sequence
	// Only strings, bools, Secrets and canonical raw JSON: Marshal cannot fail.
	b, err := json.Marshal(payload)
	if err != nil {
		panic("messages: canonical payload: " + err.Error())
	}
	return b
}
