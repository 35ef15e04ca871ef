package reelevant

import (
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
)

// BenchmarkParseResponse parses Reelevant's success answer to a PATCH:
// the hot path of every applied command.
func BenchmarkParseResponse(b *testing.B) {
	a := testAdapter(b)
	r := resp(200, envelopeOf("success", 200, `"message":"OAuth client updated","data":{"companyId":"5e1f8a3b2c4d6e7f8a9b0c1d","resourceGroupIds":[],"versions":[],"archivedAt":null}`))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.parseResponse(r, testSecret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepare builds the PATCH body of a typical update.
func BenchmarkPrepare(b *testing.B) {
	secret := messages.Secret(testSecret)
	id, tokenURL := "client-id", "https://idp.example.com/token"
	u := adapters.Update{Resource: testID, Changes: messages.Changes{ClientID: &id, ClientSecret: &secret, TokenURL: &tokenURL}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := prepare(u); err != nil {
			b.Fatal(err)
		}
	}
}
