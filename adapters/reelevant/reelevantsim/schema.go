package reelevantsim

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file is the PATCH body schema of the spec (datasources-api.json,
// update-oauth-client) with its two allOf branches merged, written
// independently of the adapter's validation so that each checks the other.

// IDPattern is the spec's pattern for the path parameter id.
var IDPattern = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

// urlPattern is the spec's ^(https?):\/\/[^\s$.?#].([^\s]|\x20)*$ with
// ECMAScript's \s (white space and line terminators) and "." (anything but
// a line terminator), which Go spells differently.
var urlPattern = func() *regexp.Regexp {
	const s = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`
	return regexp.MustCompile(`^(https?)://[^` + s + `$.?#][^\n\r\x{2028}\x{2029}]([^` + s + `]|\x20)*$`)
}()

// violation is a body that breaks the schema: the field (a dotted path) and
// what is wrong. unknown lists the keys an object may not have.
type violation struct {
	field   string
	message string
	unknown []string
}

// rule checks one value decoded with UseNumber.
type rule func(field string, v any) *violation

// oauthFields are the 12 properties of the first allOf branch, and of
// configuration.
var oauthFields = map[string]rule{
	"method":                  oneOf("GET", "POST"),
	"mode":                    oneOf("password", "client_credentials", "refresh_token", "access_token", "custom_payload", "jwt_bearer"),
	"tokenUrl":                urlRule,
	"authorizeUrl":            urlRule,
	"clientId":                stringRule,
	"clientSecret":            stringRule,
	"scopes":                  arrayOf(stringRule),
	"customPayload":           objectOf(map[string]rule{"tokenUrl": endpointRule, "authorizeUrl": endpointRule}, "tokenUrl", "authorizeUrl"),
	"accessTokenPath":         stringRule,
	"accessTokenHeader":       stringRule,
	"accessTokenHeaderPrefix": stringRule,
	"tokenExpiration":         numberRule,
}

var endpointRule = objectOf(map[string]rule{"query": mapOf(stringRule), "body": mapOf(stringRule), "headers": mapOf(stringRule)})

// bodyRule is the merged body: the 12 fields and configuration.
var bodyRule = func() rule {
	props := map[string]rule{"configuration": objectOf(oauthFields)}
	for k, r := range oauthFields {
		props[k] = r
	}
	return objectOf(props)
}()

// BodyProperties returns the keys a PATCH body may hold, sorted.
func BodyProperties() []string {
	keys := []string{"configuration"}
	for k := range oauthFields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func mustBe(field, typ string, v any) *violation {
	return &violation{field: field, message: fmt.Sprintf("%s must be %s, got %s", field, typ, typeName(v))}
}

func stringRule(field string, v any) *violation {
	if _, ok := v.(string); !ok {
		return mustBe(field, "string", v)
	}
	return nil
}

func urlRule(field string, v any) *violation {
	s, ok := v.(string)
	if !ok {
		return mustBe(field, "string", v)
	}
	if !urlPattern.MatchString(s) {
		return &violation{field: field, message: field + ` must match pattern "^(https?):\/\/[^\s$.?#].([^\s]|\x20)*$"`}
	}
	return nil
}

func numberRule(field string, v any) *violation {
	n, ok := v.(json.Number)
	if !ok {
		return mustBe(field, "number", v)
	}
	// JSON.parse makes 1e400 Infinity, which is no JSON number to send back.
	if f, _ := strconv.ParseFloat(string(n), 64); math.IsInf(f, 0) {
		return &violation{field: field, message: field + " must be a finite number"}
	}
	return nil
}

func oneOf(values ...string) rule {
	return func(field string, v any) *violation {
		s, ok := v.(string)
		if !ok {
			return mustBe(field, "string", v)
		}
		if !slices.Contains(values, s) {
			return &violation{field: field, message: field + " must be equal to one of the allowed values: " + strings.Join(values, ", ")}
		}
		return nil
	}
}

func arrayOf(item rule) rule {
	return func(field string, v any) *violation {
		a, ok := v.([]any)
		if !ok {
			return mustBe(field, "array", v)
		}
		for i, it := range a {
			if x := item(fmt.Sprintf("%s[%d]", field, i), it); x != nil {
				return x
			}
		}
		return nil
	}
}

func mapOf(value rule) rule {
	return func(field string, v any) *violation {
		m, ok := v.(map[string]any)
		if !ok {
			return mustBe(field, "object", v)
		}
		for _, k := range sorted(m) {
			if x := value(field+"."+k, m[k]); x != nil {
				return x
			}
		}
		return nil
	}
}

func objectOf(props map[string]rule, required ...string) rule {
	return func(field string, v any) *violation {
		m, ok := v.(map[string]any)
		if !ok {
			return mustBe(orBody(field), "object", v)
		}
		var unknown []string
		for _, k := range sorted(m) {
			if _, ok := props[k]; !ok {
				unknown = append(unknown, join(field, k))
			}
		}
		if len(unknown) > 0 {
			return &violation{field: orBody(field), message: orBody(field) + " must NOT have additional properties: " + strings.Join(unknown, ", "), unknown: unknown}
		}
		for _, k := range required {
			if _, ok := m[k]; !ok {
				return &violation{field: join(field, k), message: orBody(field) + " must have required property '" + k + "'"}
			}
		}
		for _, k := range sorted(m) {
			if x := props[k](join(field, k), m[k]); x != nil {
				return x
			}
		}
		return nil
	}
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func sorted(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
