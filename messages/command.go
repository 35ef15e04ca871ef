package messages

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
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

// Canonical field names of data.changes (docs/CONTRACT.md §3), in contract order.
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

// NewCommand returns a command with the given ids and data, and the
// CloudEvents attributes of an update command: specversion "1.0", type
// CommandType and datacontenttype "application/json".
func NewCommand(id, source, connection, resource string, data Data) *Command {
	return &Command{
		SpecVersion:     SpecVersion,
		ID:              id,
		Source:          source,
		Type:            CommandType,
		DataContentType: DataContentType,
		Connection:      connection,
		Resource:        resource,
		Data:            data,
	}
}

// Encode returns the command's wire JSON (structured CloudEvents), the body
// to publish on Subjects.Command(c.Connection, c.Resource). It carries the
// client secret's value: that is what the worker needs. Encode does not
// validate; DecodeCommand does.
func (c *Command) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// LogValue makes a command safe to log with slog: ids, routing and the names
// of the fields it changes, never a field's value (so never a secret).
func (c Command) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", c.ID),
		slog.String("source", c.Source),
		slog.String("type", c.Type),
		slog.String("connection", c.Connection),
		slog.String("resource", c.Resource),
	}
	if c.Batch != "" {
		attrs = append(attrs, slog.String("batch", c.Batch))
	}
	if c.Time != nil {
		attrs = append(attrs, slog.Time("time", *c.Time))
	}
	attrs = append(attrs, slog.Any("data", c.Data.LogValue()))
	return slog.GroupValue(attrs...)
}

// Data is a command's payload.
type Data struct {
	// Sequence is the per-resource order key, on the scale of a Unix time
	// in milliseconds; nil means "the time JetStream stored the command"
	// (see Command.OrderKey).
	Sequence *int64 `json:"sequence,omitempty"`
	// Changes are the provider-neutral fields to change.
	Changes Changes `json:"changes"`
	// ProviderFields are provider-native fields, validated by the provider's adapter.
	ProviderFields map[string]json.RawMessage `json:"providerFields,omitempty"`
}

// Fields returns the names of the fields data changes: the canonical fields
// present, in contract order, then the provider fields, sorted, each with
// ProviderFieldPrefix ("providerFields.mode").
func (d Data) Fields() []string {
	f := d.Changes.Fields()
	pf := make([]string, 0, len(d.ProviderFields))
	for k := range d.ProviderFields {
		pf = append(pf, ProviderFieldPrefix+k)
	}
	slices.Sort(pf)
	return append(f, pf...)
}

// LogValue makes data safe to log with slog: the sequence and the names of
// the fields changed, never their values.
func (d Data) LogValue() slog.Value {
	var attrs []slog.Attr
	if d.Sequence != nil {
		attrs = append(attrs, slog.Int64("sequence", *d.Sequence))
	}
	attrs = append(attrs, slog.Any("fields", d.Fields()))
	return slog.GroupValue(attrs...)
}

// Changes are the canonical fields of docs/CONTRACT.md §3. A nil field is absent:
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

// LogValue makes changes safe to log with slog: the names of the fields
// present, never their values.
func (c Changes) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("fields", c.Fields()))
}

// With returns a copy of c in which every field present in o takes o's
// value; the others keep c's.
func (c Changes) With(o Changes) Changes {
	set := func(dst **string, src *string) {
		if src != nil {
			*dst = src
		}
	}
	set(&c.Name, o.Name)
	set(&c.Description, o.Description)
	set(&c.ClientID, o.ClientID)
	set(&c.RedirectURI, o.RedirectURI)
	set(&c.AuthorizeURL, o.AuthorizeURL)
	set(&c.TokenURL, o.TokenURL)
	if o.ClientSecret != nil {
		c.ClientSecret = o.ClientSecret
	}
	if o.Scopes != nil {
		c.Scopes = o.Scopes
	}
	if o.Active != nil {
		c.Active = o.Active
	}
	return c
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
