package jframework

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/messages"
)

// nullable is a provider field that may be set to null.
type nullable struct {
	set bool    // the update carries the field
	v   *string // its value; nil is null
}

// nativeFields are the validated provider-native fields of an update; nil
// (or !set) means the update does not carry the field.
type nativeFields struct {
	AppIntegrationID, Code, ProjectID *string
	IconURL, Tags                     nullable
	Status                            *string
	IsDefault                         *bool
}

// nativeOfCanonical maps the native names of fields that have a canonical
// field to that field: they are set through changes, never providerFields.
var nativeOfCanonical = map[string]string{
	fieldName:          messages.FieldName,
	fieldDescription:   messages.FieldDescription,
	fieldClientID:      messages.FieldClientID,
	fieldClientSecret:  messages.FieldClientSecret,
	fieldRedirectURI:   messages.FieldRedirectURI,
	fieldScope:         messages.FieldScopes,
	fieldAuthEndpoint:  messages.FieldAuthorizeURL,
	fieldTokenEndpoint: messages.FieldTokenURL,
	// The canonical names themselves, where they differ from the native ones.
	messages.FieldRedirectURI:  messages.FieldRedirectURI,
	messages.FieldScopes:       messages.FieldScopes,
	messages.FieldAuthorizeURL: messages.FieldAuthorizeURL,
	messages.FieldTokenURL:     messages.FieldTokenURL,
	messages.FieldActive:       messages.FieldActive,
}

// validate checks u against the provider document and returns its
// provider-native fields, decoded.
func validate(u adapters.Update) (nativeFields, error) {
	var nf nativeFields
	if err := httpx.ValidateSegmentFunc("resource", u.Resource, validResourceID, ResourcePattern); err != nil {
		return nf, err
	}
	if err := validateChanges(u.Changes); err != nil {
		return nf, err
	}
	for _, name := range slices.Sorted(maps.Keys(u.ProviderFields)) {
		if err := nf.decode(name, u.ProviderFields[name], u.Changes); err != nil {
			return nativeFields{}, err
		}
	}
	return nf, nil
}

// validateChanges checks the canonical fields against the native fields they
// map to (docs/CONTRACT.md §3). jframework has a place for every canonical field.
func validateChanges(c messages.Changes) error {
	nonEmpty := func(field, native string, v string) error {
		if v == "" {
			return adapters.Invalid(field, "must not be empty (jframework's %s is a required string, min length 1)", native)
		}
		return nil
	}
	for _, f := range c.Fields() {
		var err error
		switch f {
		case messages.FieldName:
			err = nonEmpty(f, fieldName, *c.Name)
		case messages.FieldClientID:
			err = nonEmpty(f, fieldClientID, *c.ClientID)
		case messages.FieldClientSecret:
			err = nonEmpty(f, fieldClientSecret, c.ClientSecret.Reveal())
		case messages.FieldRedirectURI:
			err = nonEmpty(f, fieldRedirectURI, *c.RedirectURI)
		case messages.FieldScopes:
			err = validateScopes(*c.Scopes)
		case messages.FieldAuthorizeURL:
			if !isURI(*c.AuthorizeURL) {
				err = adapters.Invalid(f, "must be an absolute URI (jframework's %s is a string of format uri)", fieldAuthEndpoint)
			}
		case messages.FieldTokenURL:
			if !isURI(*c.TokenURL) {
				err = adapters.Invalid(f, "must be an absolute URI (jframework's %s is a string of format uri)", fieldTokenEndpoint)
			}
		case messages.FieldDescription, messages.FieldActive:
			// Any string (description is a nullable string); any boolean.
		default:
			err = adapters.Unsupported(Provider, f)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// validateScopes checks that scopes join, space-separated, into a scope
// that is not empty and splits back into the same scopes.
func validateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return adapters.Invalid(messages.FieldScopes, "must hold at least one scope (jframework's scope is a required string, min length 1)")
	}
	for i, s := range scopes {
		switch {
		case s == "":
			return adapters.Invalid(messages.FieldScopes, "scope %d is empty (scopes are sent space-joined as jframework's scope)", i)
		case strings.IndexFunc(s, unicode.IsSpace) >= 0:
			return adapters.Invalid(messages.FieldScopes, "scope %d holds whitespace (scopes are sent space-joined as jframework's scope)", i)
		}
	}
	return nil
}

// decode checks one provider field and stores its value in nf.
func (nf *nativeFields) decode(name string, raw json.RawMessage, c messages.Changes) error {
	field := messages.ProviderFieldPrefix + name
	if canonical, ok := nativeOfCanonical[name]; ok {
		return adapters.Invalid(field, "%q is set through the canonical field %q (jframework's %s): put it in changes, not providerFields",
			name, canonical, nativeName(canonical))
	}
	if !isNative(name) {
		return unknownField(field, name)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return adapters.Invalid(field, "is not a JSON value")
	}
	switch name {
	case fieldAppIntegrationID, fieldCode, fieldProjectID:
		s, ok := v.(string)
		switch {
		case !ok:
			return adapters.Invalid(field, "must be a string (string, min length 1), not %s", jsonType(v))
		case s == "":
			return adapters.Invalid(field, "must not be empty (jframework's %s is a required string, min length 1)", name)
		}
		switch name {
		case fieldAppIntegrationID:
			nf.AppIntegrationID = &s
		case fieldCode:
			nf.Code = &s
		default:
			nf.ProjectID = &s
		}
	case fieldIconURL:
		switch s := v.(type) {
		case nil:
			nf.IconURL = nullable{set: true}
		case string:
			if !isURI(s) {
				return adapters.Invalid(field, "must be an absolute URI or null (string of format uri, nullable)")
			}
			nf.IconURL = nullable{set: true, v: &s}
		default:
			return adapters.Invalid(field, "must be a string or null (string of format uri, nullable), not %s", jsonType(v))
		}
	case fieldTags:
		switch s := v.(type) {
		case nil:
			nf.Tags = nullable{set: true}
		case string:
			nf.Tags = nullable{set: true, v: &s}
		default:
			return adapters.Invalid(field, "must be a string or null (string, nullable), not %s", jsonType(v))
		}
	case fieldStatus:
		s, ok := v.(string)
		if !ok || (s != StatusActive && s != StatusInactive) {
			return adapters.Invalid(field, "must be %q or %q (the status enum), not %s", StatusActive, StatusInactive, describe(v))
		}
		if c.Active != nil {
			return adapters.Invalid(field, "conflicts with the canonical field %q: both set jframework's status; send one of them",
				messages.FieldActive)
		}
		nf.Status = &s
	case fieldIsDefault:
		b, ok := v.(bool)
		if !ok {
			return adapters.Invalid(field, "must be true or false (boolean), not %s", jsonType(v))
		}
		nf.IsDefault = &b
	}
	return nil
}

func isNative(name string) bool {
	switch name {
	case fieldAppIntegrationID, fieldCode, fieldProjectID, fieldIconURL, fieldTags, fieldStatus, fieldIsDefault:
		return true
	}
	return false
}

func unknownField(field, name string) error {
	return adapters.Invalid(field, "unknown provider field %q: jframework's native fields are %s, %s, %s, %s, %s, %s and %s",
		truncate(name, 64), fieldAppIntegrationID, fieldCode, fieldProjectID, fieldIconURL, fieldTags, fieldStatus, fieldIsDefault)
}

// nativeName is the native name of a canonical field.
func nativeName(canonical string) string {
	switch canonical {
	case messages.FieldRedirectURI:
		return fieldRedirectURI
	case messages.FieldScopes:
		return fieldScope + ", space-joined"
	case messages.FieldAuthorizeURL:
		return fieldAuthEndpoint
	case messages.FieldTokenURL:
		return fieldTokenEndpoint
	case messages.FieldActive:
		return fieldStatus + " " + StatusActive + "/" + StatusInactive
	}
	return canonical
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

// describe quotes a short string value (an enum candidate) or names the type.
func describe(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", truncate(s, 32))
	}
	return jsonType(v)
}

// isURI reports whether s is an absolute URI (RFC 3986, what JSON Schema's
// format uri means): a scheme, and only characters URI syntax allows (no
// spaces, controls or non-ASCII).
func isURI(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"<>\^`+"`{|}", c) >= 0 {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
}
