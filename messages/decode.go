package messages

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// InvalidError says why a command was refused: which field and why. It also
// carries the ids that could be read, so the worker can publish a rejected
// result (when ID, Connection and Resource are all known) instead of a dead letter.
type InvalidError struct {
	// Field is the JSON path of the offending field ("data.changes.active",
	// "subject", "body").
	Field string
	// Reason says what is wrong, naming the expected type, pattern or limit.
	// It never contains the value of a secret.
	Reason string
	// ID, Connection and Resource are set when they could be read and are valid.
	ID, Connection, Resource string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Identified reports whether the command id, connection and resource are known,
// i.e. whether a rejected result can be published for the refused command.
func (e *InvalidError) Identified() bool {
	return e.ID != "" && e.Connection != "" && e.Resource != ""
}

// DecodeOptions tune DecodeCommand.
type DecodeOptions struct {
	// MaxBytes is the largest body accepted; 0 means DefaultMaxCommandBytes.
	MaxBytes int
	// Subjects names the subjects; the zero value uses the "sync" prefix.
	Subjects Subjects
}

var (
	// idPattern is the charset of a command id and of a batch name.
	idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	// providerFieldPattern is the name of a provider-native field.
	providerFieldPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
)

// ValidCommandID reports whether id is a valid command id (or batch name):
// 1 to 128 characters of [A-Za-z0-9._:-].
func ValidCommandID(id string) bool { return idChars.run(id, 1, 128) }

// commandKeys are the keys a command may hold, in contract order.
var commandKeys = []string{
	"specversion", "id", "source", "type", "time", "datacontenttype",
	"connection", "resource", "batch", "data",
}

// DecodeCommand decodes and validates a command received on subject.
// On refusal it returns an *InvalidError.
//
// The body must be a single CloudEvents 1.0 JSON object as docs/CONTRACT.md §3
// describes it: size is checked before anything is decoded, unknown and
// duplicate keys are refused at every level, null is never accepted for a
// canonical field, and connection and resource must equal the subject's
// tokens. On refusal the error carries the subject's tokens (when the subject
// is valid) and the body's id (when it is a valid id and can be read at all,
// even from an otherwise broken body), so that the caller can publish a
// rejected result when (*InvalidError).Identified reports true.
//
// Reasons name the expected type, pattern or limit; they never quote a value
// of data.changes or data.providerFields.
func DecodeCommand(subject string, body []byte, opts DecodeOptions) (*Command, error) {
	connection, resource, subjectErr := opts.Subjects.ParseCommand(subject)
	refuse := func(ie *InvalidError, id string) error {
		ie.ID, ie.Connection, ie.Resource = id, connection, resource
		return ie
	}
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxCommandBytes
	}
	if len(body) > limit {
		return nil, refuse(invalidf("body", "is %d bytes long, over the limit of %d bytes", len(body), limit), "")
	}
	// The lenient id pass runs only on refusal: a valid command (the hot
	// path) is parsed once.
	if subjectErr != nil {
		ie := invalid("subject", subjectErr.Error())
		if se := (*InvalidError)(nil); errors.As(subjectErr, &se) {
			ie = invalid(se.Field, se.Reason)
		}
		return nil, refuse(ie, lenientID(body))
	}
	cmd, ie := decodeCommand(body, connection, resource)
	if ie != nil {
		return nil, refuse(ie, lenientID(body))
	}
	return cmd, nil
}

// lenientID reads the top-level "id" of body as far as body can be read,
// without any other check. It returns "" unless exactly one "id" key was
// seen before the first syntax error and its value is a valid command id.
func lenientID(body []byte) string {
	if cut := depthOver(body, MaxDepth); cut >= 0 {
		body = body[:cut] // the members before the deep part can be read
	}
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return ""
	}
	i = skipSpace(body, i+1)
	var id string
	seen := false
	for i < len(body) && body[i] == '"' {
		kend, esc, err := scanString(body, i)
		if err != nil {
			break
		}
		key := unquote(body[i:kend], esc)
		i = skipSpace(body, kend)
		if i >= len(body) || body[i] != ':' {
			break
		}
		i = skipSpace(body, i+1)
		vend, jerr := scanValue(body, i, 1)
		if jerr != nil {
			break
		}
		if key == "id" {
			if seen {
				return "" // ambiguous
			}
			seen = true
			if s, ok := stringValue(body[i:vend]); ok && ValidCommandID(s) {
				id = s
			}
		}
		i = skipSpace(body, vend)
		if i >= len(body) || body[i] != ',' {
			break
		}
		i = skipSpace(body, i+1)
	}
	return id
}

// decodeCommand is DecodeCommand once the subject and size are known good.
func decodeCommand(body []byte, connection, resource string) (*Command, *InvalidError) {
	top, ie := parseTop(body, commandKeys...)
	if ie != nil {
		return nil, ie
	}
	c := &Command{}

	// Required CloudEvents attributes, in a fixed order so that the error
	// reported does not depend on the body's key order.
	if c.SpecVersion, ie = requiredConst(top, "specversion", SpecVersion); ie != nil {
		return nil, ie
	}
	if c.Type, ie = requiredConst(top, "type", CommandType); ie != nil {
		return nil, ie
	}
	if c.ID, ie = requiredString(top, "id"); ie != nil {
		return nil, ie
	}
	if !ValidCommandID(c.ID) {
		return nil, invalidf("id", "must match %s", idPattern)
	}
	if c.Source, ie = requiredString(top, "source"); ie != nil {
		return nil, ie
	}
	if c.Source == "" {
		return nil, invalid("source", "must be a non-empty URI-reference")
	}
	if v, ok := top.get("time"); ok {
		t, ie := decodeTime(v, "time")
		if ie != nil {
			return nil, ie
		}
		c.Time = &t
	}
	if v, ok := top.get("datacontenttype"); ok {
		s, ie := decodeString(v, "datacontenttype")
		if ie != nil {
			return nil, ie
		}
		if s != DataContentType {
			return nil, invalidf("datacontenttype", "must be %q when present, got %q", DataContentType, shorten(s))
		}
		c.DataContentType = s
	}

	// Routing: the body must agree with the subject.
	if c.Connection, ie = requiredString(top, "connection"); ie != nil {
		return nil, ie
	}
	if c.Connection != connection {
		return nil, invalidf("connection", "is %q but the subject's connection token is %q; they must be equal", shorten(c.Connection), connection)
	}
	if c.Resource, ie = requiredString(top, "resource"); ie != nil {
		return nil, ie
	}
	if c.Resource != resource {
		return nil, invalidf("resource", "is %q but the subject's resource token is %q; they must be equal", shorten(c.Resource), resource)
	}
	if v, ok := top.get("batch"); ok {
		if c.Batch, ie = decodeString(v, "batch"); ie != nil {
			return nil, ie
		}
		if !ValidCommandID(c.Batch) {
			return nil, invalidf("batch", "must match %s", idPattern)
		}
	}

	v, ie := top.require("data")
	if ie != nil {
		return nil, ie
	}
	if c.Data, ie = decodeData(v); ie != nil {
		return nil, ie
	}
	return c, nil
}

// requiredString reads the required string member key of o.
func requiredString(o *object, key string) (string, *InvalidError) {
	v, ie := o.require(key)
	if ie != nil {
		return "", ie
	}
	return decodeString(v, o.at(key))
}

// requiredConst reads the required string member key of o, which must be want.
func requiredConst(o *object, key, want string) (string, *InvalidError) {
	s, ie := requiredString(o, key)
	if ie != nil {
		return "", ie
	}
	if s != want {
		return "", invalidf(o.at(key), "must be %q, got %q", want, shorten(s))
	}
	return s, nil
}

// decodeData reads the command's data member.
func decodeData(raw []byte) (Data, *InvalidError) {
	var d Data
	o, ie := parseObject(raw, "data")
	if ie != nil {
		return d, ie
	}
	if ie := o.only("sequence", "changes", "providerFields"); ie != nil {
		return d, ie
	}
	if v, ok := o.get("sequence"); ok {
		n, ie := decodeInt(v, "data.sequence", 0, math.MaxInt64)
		if ie != nil {
			return d, ie
		}
		d.Sequence = &n
	}
	if v, ok := o.get("changes"); ok {
		if d.Changes, ie = decodeChanges(v); ie != nil {
			return d, ie
		}
	}
	if v, ok := o.get("providerFields"); ok {
		if d.ProviderFields, ie = decodeProviderFields(v); ie != nil {
			return d, ie
		}
	}
	if len(d.Changes.Fields()) == 0 && len(d.ProviderFields) == 0 {
		return d, invalid("data.changes", "at least one change is required in data.changes or data.providerFields")
	}
	return d, nil
}

// decodeProviderFields reads data.providerFields: keys are checked, values
// are kept compacted (their validation is the provider adapter's). An empty
// object is the same as none: nil.
func decodeProviderFields(raw []byte) (map[string]json.RawMessage, *InvalidError) {
	o, ie := parseObject(raw, "data.providerFields")
	if ie != nil {
		return nil, ie
	}
	if len(o.keys) == 0 {
		return nil, nil
	}
	fields := make(map[string]json.RawMessage, len(o.keys))
	for i, k := range o.keys {
		if !isProviderField(k) {
			return nil, invalidf(o.at(k), "provider field names must match %s", providerFieldPattern)
		}
		v := o.values[i]
		if err := checkCanonical(v, 3); err != nil { // body, data, providerFields
			return nil, invalid(o.at(k), "value "+err.Error())
		}
		fields[k] = json.RawMessage(appendCompact(make([]byte, 0, len(v)), v))
	}
	return fields, nil
}

// changesKeys are the canonical fields, in contract order.
var changesKeys = []string{
	FieldName, FieldDescription, FieldClientID, FieldClientSecret, FieldRedirectURI,
	FieldScopes, FieldAuthorizeURL, FieldTokenURL, FieldActive,
}

// decodeChanges reads data.changes. No reason quotes a value.
func decodeChanges(raw []byte) (Changes, *InvalidError) {
	var c Changes
	o, ie := parseObject(raw, "data.changes")
	if ie != nil {
		return c, ie
	}
	if ie := o.only(changesKeys...); ie != nil {
		return c, ie
	}
	for _, key := range changesKeys {
		v, ok := o.get(key)
		if !ok {
			continue
		}
		field := o.at(key)
		if key == FieldActive {
			b, ie := decodeBool(v, field)
			if ie != nil {
				return c, ie
			}
			c.Active = &b
			continue
		}
		if key == FieldScopes {
			scopes, ie := decodeStrings(v, field, checkScope)
			if ie != nil {
				return c, ie
			}
			if i, j, dup := firstDuplicate(scopes); dup {
				return c, invalidf(fmt.Sprintf("%s[%d]", field, i), "duplicates %s[%d]; scopes must be unique", field, j)
			}
			c.Scopes = &scopes
			continue
		}
		s, ie := decodeString(v, field)
		if ie != nil {
			return c, ie
		}
		switch key {
		case FieldName:
			if strings.TrimSpace(s) == "" {
				return c, invalid(field, "must not be empty or blank")
			}
			c.Name = &s
		case FieldDescription:
			c.Description = &s
		case FieldClientID:
			if s == "" {
				return c, invalid(field, "must not be empty")
			}
			c.ClientID = &s
		case FieldClientSecret:
			if s == "" {
				return c, invalid(field, "must not be empty")
			}
			secret := Secret(s)
			c.ClientSecret = &secret
		case FieldRedirectURI:
			if reason := checkRedirectURIs(s); reason != "" {
				return c, invalid(field, reason)
			}
			c.RedirectURI = &s
		case FieldAuthorizeURL, FieldTokenURL:
			if reason := checkHTTPURL(s); reason != "" {
				return c, invalid(field, reason)
			}
			if key == FieldAuthorizeURL {
				c.AuthorizeURL = &s
			} else {
				c.TokenURL = &s
			}
		}
	}
	return c, nil
}

// checkScope refuses an empty scope or one with whitespace (providers join
// scopes with spaces).
func checkScope(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "must not contain whitespace (scopes are joined with spaces)"
	}
	return ""
}

// schemePattern is an URI scheme followed by ':' (RFC 3986 §3.1).
var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// checkRedirectURIs returns why s is not a redirect URI or a comma-separated
// list of them (as Rocket.Chat accepts), or "" when it is. The reason never
// quotes s.
func checkRedirectURIs(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "must not contain whitespace; separate several URIs with commas only"
	}
	entries := strings.Split(s, ",")
	for i, e := range entries {
		where := "must be"
		if len(entries) > 1 {
			where = fmt.Sprintf("entry %d of the comma-separated list must be", i+1)
		}
		scheme := schemePattern.FindString(e)
		if scheme == "" || len(e) == len(scheme) {
			return where + " an absolute URI with a scheme, such as https://app.example.com/callback"
		}
		u, err := url.Parse(e)
		if err != nil {
			return where + " a valid absolute URI"
		}
		if (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() == "" {
			return where + " an http(s) URI with a host"
		}
	}
	return ""
}

// checkHTTPURL returns why s is not an absolute http or https URL with a
// host, or "" when it is. The reason never quotes s.
func checkHTTPURL(s string) string {
	const want = "must be an absolute http or https URL with a host"
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return want + " (no whitespace)"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "" {
		return want
	}
	return ""
}

// firstDuplicate finds, in O(n log n), the first item of list (in list
// order) equal to an earlier one, i, and the first of those, j.
func firstDuplicate(list []string) (i, j int, dup bool) {
	idx := make([]int32, len(list))
	for k := range idx {
		idx[k] = int32(k)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		return cmp.Or(strings.Compare(list[a], list[b]), cmp.Compare(a, b))
	})
	i = len(list)
	for k := 1; k < len(idx); k++ {
		if list[idx[k]] == list[idx[k-1]] && int(idx[k]) < i {
			i, dup = int(idx[k]), true
			j = int(idx[k-1])
			for k2 := k - 1; k2 > 0 && list[idx[k2-1]] == list[idx[k]]; k2-- {
				j = int(idx[k2-1])
			}
		}
	}
	return i, j, dup
}
