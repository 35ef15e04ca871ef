package adapters_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
)

func TestUpdateWithMergesFields(t *testing.T) {
	ptr := func(s string) *string { return &s }
	active := false
	scopes := []string{"openid"}
	a := adapters.Update{Resource: "app-1", Changes: messages.Changes{Name: ptr("a"), RedirectURI: ptr("https://a.example/cb")},
		ProviderFields: map[string]json.RawMessage{"color": json.RawMessage(`"red"`)}}
	b := adapters.Update{Resource: "app-1", Changes: messages.Changes{Name: ptr("b"), Scopes: &scopes, Active: &active},
		ProviderFields: map[string]json.RawMessage{"size": json.RawMessage(`3`)}}
	got := a.With(b)
	want := []string{messages.FieldName, messages.FieldRedirectURI, messages.FieldScopes, messages.FieldActive,
		messages.ProviderFieldPrefix + "color", messages.ProviderFieldPrefix + "size"}
	if !slices.Equal(got.Fields(), want) {
		t.Fatalf("fields = %v, want %v", got.Fields(), want)
	}
	if *got.Changes.Name != "b" || *got.Changes.RedirectURI != "https://a.example/cb" || *got.Changes.Active || (*got.Changes.Scopes)[0] != "openid" {
		t.Fatalf("values = %+v: want b's name, a's redirect URI, b's scopes and active", got.Changes)
	}
	// Neither operand changes.
	if *a.Changes.Name != "a" || len(a.ProviderFields) != 1 || a.Changes.Scopes != nil || len(b.ProviderFields) != 1 {
		t.Fatalf("With changed its operands: %+v, %+v", a, b)
	}
	if got := a.With(adapters.Update{}); !slices.Equal(got.Fields(), a.Fields()) {
		t.Fatalf("With an empty update: %v, want %v", got.Fields(), a.Fields())
	}
}
