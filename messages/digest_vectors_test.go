package messages_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

// vectorBlock is a fenced block of docs/payload-digest.md tagged for the
// vectors: ```json command, ```json invalid, ```text canonical, ```text
// digest, ```text key.
var vectorBlock = regexp.MustCompile("(?ms)^```(?:json|text) (command|invalid|canonical|digest|key)\n(.*?)\n```")

// TestPayloadDigestVectors checks every test vector of
// docs/payload-digest.md, so that the document and the code cannot drift.
func TestPayloadDigestVectors(t *testing.T) {
	doc, err := os.ReadFile("../docs/payload-digest.md")
	if err != nil {
		t.Fatal(err)
	}
	var key []byte
	type vector struct{ kind, input, canonical, digest string }
	var vectors []*vector
	for _, m := range vectorBlock.FindAllStringSubmatch(string(doc), -1) {
		tag, text := m[1], m[2]
		switch tag {
		case "key":
			if key, err = hex.DecodeString(text); err != nil || len(key) != 32 {
				t.Fatalf("key block: %v", err)
			}
		case "command", "invalid":
			vectors = append(vectors, &vector{kind: tag, input: text})
		case "canonical", "digest":
			if len(vectors) == 0 {
				t.Fatalf("%s block before any command", tag)
			}
			v := vectors[len(vectors)-1]
			if tag == "canonical" {
				v.canonical = text
			} else {
				v.digest = text
			}
		}
	}
	if len(vectors) < 5 || key == nil {
		t.Fatalf("found %d vectors and key %v in the document", len(vectors), key != nil)
	}
	for i, v := range vectors {
		if v.digest == "" {
			t.Errorf("vector %d has no digest", i+1)
			continue
		}
		if v.kind == "invalid" {
			got, err := messages.InvalidBodyDigest(key, []byte(v.input))
			if err != nil || got != v.digest {
				t.Errorf("vector %d (invalid body): digest %s, %v; the document says %s", i+1, got, err, v.digest)
			}
			continue
		}
		var ids struct{ Connection, Resource string }
		if err := json.Unmarshal([]byte(v.input), &ids); err != nil {
			t.Fatalf("vector %d: %v", i+1, err)
		}
		cmd, err := messages.DecodeCommand("sync.commands."+ids.Connection+"."+ids.Resource, []byte(v.input), messages.DecodeOptions{})
		if err != nil {
			t.Fatalf("vector %d: DecodeCommand: %v", i+1, err)
		}
		canonical, err := cmd.CanonicalPayload(key)
		if err != nil {
			t.Fatalf("vector %d: %v", i+1, err)
		}
		if string(canonical) != v.canonical {
			t.Errorf("vector %d: canonical payload\n got %s\nwant %s", i+1, canonical, v.canonical)
		}
		if got := hashOfKey(t, cmd, key); got != v.digest {
			t.Errorf("vector %d: digest %s; the document says %s", i+1, got, v.digest)
		}
	}
}

func hashOfKey(t *testing.T, c *messages.Command, key []byte) string {
	t.Helper()
	d, err := c.PayloadDigest(key)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
