package jframework

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
)

// fullRead is a current object with every field.
func fullRead() *authentication {
	s := func(v string) *string { return &v }
	f := false
	cur := &authentication{
		ID: s(testID), Code: s("c"), Name: s("n"), ProjectID: s("p"), ClientID: s("ci"), ClientSecret: s(testSecret),
		RedirectURI: s("https://r"), Scope: s("s"), AuthEndpoint: s("https://a"), TokenEndpoint: s("https://t"),
		IconURL: s("https://i"), Tags: s("#t"), Description: s("d"), Status: s(StatusActive), IsDefault: &f,
	}
	cur.AppIntegration = &struct {
		ID *string `json:"id"`
	}{ID: s("A")}
	return cur
}

// FuzzValidate: whatever a command's providerFields hold, Validate never
// panics and refuses with KindInvalid naming the field; what it accepts
// merges into a PUT body that keeps the document's rules (required
// non-empty strings, URIs or null, the status enum).
func FuzzValidate(f *testing.F) {
	for _, s := range []struct{ name, raw string }{
		{"appIntegrationId", `"A2"`}, {"code", `""`}, {"projectId", `1`}, {"iconURL", `null`}, {"iconURL", `"https://x/i"`},
		{"iconURL", `"iconUrl"`}, {"tags", `"#a"`}, {"tags", `[]`}, {"status", `"Inactive"`}, {"status", `"active"`},
		{"isDefault", `true`}, {"isDefault", `"true"`}, {"name", `"x"`}, {"redirectURI", `"x"`}, {"noSuchField", `{`},
	} {
		f.Add(s.name, []byte(s.raw), "https://x.example/auth", true)
	}
	f.Fuzz(func(t *testing.T, name string, raw []byte, uri string, active bool) {
		u := adapters.Update{
			Resource:       testID,
			Changes:        messages.Changes{AuthorizeURL: &uri, Active: &active},
			ProviderFields: map[string]json.RawMessage{name: raw},
		}
		nf, err := validate(u)
		if err != nil {
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != adapters.KindInvalid || ae.Field == "" || ae.Message == "" {
				t.Fatalf("validate error %#v", err)
			}
			if ae.Field != messages.FieldAuthorizeURL && ae.Field != messages.ProviderFieldPrefix+name {
				t.Fatalf("error on %q for a bad %q or %q", ae.Field, name, messages.FieldAuthorizeURL)
			}
			return
		}
		if name == fieldStatus {
			t.Fatal("status accepted beside active")
		}
		b, merr := merge(fullRead(), u.Changes, nf)
		if merr != nil {
			t.Fatalf("merge: %v", merr)
		}
		for _, v := range []string{b.AppIntegrationID, b.Code, b.Name, b.ProjectID, b.ClientID, b.ClientSecret, b.RedirectURI, b.Scope} {
			if v == "" {
				t.Fatalf("empty required field in %+v", b)
			}
		}
		for _, p := range []*string{b.AuthEndpoint, b.TokenEndpoint, b.IconURL} {
			if p != nil && !isURI(*p) {
				t.Fatalf("not a URI: %q", *p)
			}
		}
		if b.Status == nil || (*b.Status != StatusActive && *b.Status != StatusInactive) || b.IsDefault == nil {
			t.Fatalf("status %v, isDefault %v", b.Status, b.IsDefault)
		}
		if _, err := json.Marshal(b); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(b.Scope, "\t\n") {
			t.Fatalf("scope %q", b.Scope)
		}
	})
}

func TestIsURI(t *testing.T) {
	for s, want := range map[string]bool{
		"https://accounts.google.com/o/oauth2/auth": true,
		"http://localhost:8080/cb?x=1&y=%20#frag":   true,
		"urn:ietf:wg:oauth:2.0:oob":                 true,
		"com.example.app:/oauth2redirect":           true,
		"":                                          false,
		"/relative/path":                            false,
		"iconUrl":                                   false,
		"https://a b/":                              false,
		"https://exämple.com/":                      false,
		"https://x/\x00":                            false,
		"https://x/%zz":                             false,
		"https://x/{a}":                             false,
		"1http://x":                                 false,
		"https://[::1/":                             false,
	} {
		if got := isURI(s); got != want {
			t.Errorf("isURI(%q) = %v, want %v", s, got, want)
		}
	}
}
