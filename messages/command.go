package messages

import (
	"encoding/json"
	"time"
)

// CloudEvents attributes of oauthsync's events.
const (
	SpecVersion     = "1.0"
	CommandType     = "oauthsync.client.update.v1"
	ResultType      = "oauthsync.client.update.result.v1"
	ContentType     = "application/cloudevents+json"
	DataContentType = "application/json"

	// DefaultMaxCommandBytes is the default size limit of a command body (64 KiB).
	DefaultMaxCommandBytes = 64 << 10
)

// Canonical field names of data.changes (CONTRACT §3), in contract order.
const (
	FieldName         = "name"
	FieldDescription  = "description"
	FieldClientID     = "clientId"
	FieldClientSecret = "clientSecret"
	FieldRedirectURI  = "redirectUri"
	FieldScopes       = "scopes"
	FieldAuthorizeURL = "authorizeUrl"
	FieldTokenURL     = "tokenUrl"
	FieldActive       = "active"
)

// ProviderFieldPrefix prefixes a provider-native field's name where it is
// reported beside canonical fields (appliedFields, skippedFields, order keys):
// "providerFields.mode".
const ProviderFieldPrefix = "providerFields."

// Command is an update command: a CloudEvents 1.0 event in structured JSON mode.
type Command struct {
	SpecVersion     string     `json:"specversion"`
	ID              string     `json:"id"`
	Source          string     `json:"source"`
	Type            string     `json:"type"`
	Time            *time.Time `json:"time,omitempty"`
	DataContentType string     `json:"datacontenttype,omitempty"`
	Connection      string     `json:"connection"`
	Resource        string     `json:"resource"`
	Batch           string     `json:"batch,omitempty"`
	Data            Data       `json:"data"`
}

// Data is a command's payload.
type Data struct {
	// Sequence is the per-resource order key; nil means "use the stream sequence".
	Sequence *int64 `json:"sequence,omitempty"`
	// Changes are the provider-neutral fields to change.
	Changes Changes `json:"changes"`
	// ProviderFields are provider-native fields, validated by the provider's adapter.
	ProviderFields map[string]json.RawMessage `json:"providerFields,omitempty"`
}

// Changes are the canonical fields of CONTRACT §3. A nil field is absent:
// only the fields present change.
type Changes struct {
	Name         *string   `json:"name,omitempty"`
	Description  *string   `json:"description,omitempty"`
	ClientID     *string   `json:"clientId,omitempty"`
	ClientSecret *Secret   `json:"clientSecret,omitempty"`
	RedirectURI  *string   `json:"redirectUri,omitempty"`
	Scopes       *[]string `json:"scopes,omitempty"`
	AuthorizeURL *string   `json:"authorizeUrl,omitempty"`
	TokenURL     *string   `json:"tokenUrl,omitempty"`
	Active       *bool     `json:"active,omitempty"`
}

// Fields returns the names of the canonical fields present, in contract order.
func (c Changes) Fields() []string {
	var f []string
	add := func(present bool, name string) {
		if present {
			f = append(f, name)
		}
	}
	add(c.Name != nil, FieldName)
	add(c.Description != nil, FieldDescription)
	add(c.ClientID != nil, FieldClientID)
	add(c.ClientSecret != nil, FieldClientSecret)
	add(c.RedirectURI != nil, FieldRedirectURI)
	add(c.Scopes != nil, FieldScopes)
	add(c.AuthorizeURL != nil, FieldAuthorizeURL)
	add(c.TokenURL != nil, FieldTokenURL)
	add(c.Active != nil, FieldActive)
	return f
}

// Without returns a copy of c without the named canonical fields.
func (c Changes) Without(names ...string) Changes {
	for _, n := range names {
		switch n {
		case FieldName:
			c.Name = nil
		case FieldDescription:
			c.Description = nil
		case FieldClientID:
			c.ClientID = nil
		case FieldClientSecret:
			c.ClientSecret = nil
		case FieldRedirectURI:
			c.RedirectURI = nil
		case FieldScopes:
			c.Scopes = nil
		case FieldAuthorizeURL:
			c.AuthorizeURL = nil
		case FieldTokenURL:
			c.TokenURL = nil
		case FieldActive:
			c.Active = nil
		}
	}
	return c
}
