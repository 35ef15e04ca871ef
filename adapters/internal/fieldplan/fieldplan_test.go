package fieldplan

import (
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
)

func TestJSON(t *testing.T) {
	s := "https://a.example/cb?x=1&y=<2>"
	n := int64(54)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{s, `"https://a.example/cb?x=1&y=<2>"`},
		{&s, `"https://a.example/cb?x=1&y=<2>"`},
		{(*string)(nil), `null`},
		{nil, `null`},
		{&n, `54`},
		{[]string{"a", "b"}, `["a","b"]`},
		{[]string{}, `[]`},
		{map[string]any{"b": 1, "a": []any{}}, `{"a":[],"b":1}`},
		{false, `false`},
	} {
		if got := string(JSON(tc.v)); got != tc.want {
			t.Errorf("JSON(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestJSONPanicsWithoutTheValue(t *testing.T) {
	defer func() {
		if r := recover(); r != "fieldplan: a chan int does not encode as JSON" {
			t.Errorf("recovered %v", r)
		}
	}()
	JSON(make(chan int))
}

func TestPlans(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  adapters.FieldPlan
		want adapters.FieldPlan
	}{
		{"held", Compared("name", true, "a", "a"),
			adapters.FieldPlan{Field: "name", State: adapters.FieldUnchanged, Current: []byte(`"a"`), Desired: []byte(`"a"`)}},
		{"changed", Compared("active", false, true, false),
			adapters.FieldPlan{Field: "active", State: adapters.FieldChanged, Current: []byte(`true`), Desired: []byte(`false`)}},
		{"unknown", Unknown("scopes", []string{"x"}),
			adapters.FieldPlan{Field: "scopes", State: adapters.FieldUnknown, Desired: []byte(`["x"]`)}},
		{"secret held", Secret("clientSecret", true, true),
			adapters.FieldPlan{Field: "clientSecret", State: adapters.FieldUnchanged, Secret: true}},
		{"secret changed", Secret("clientSecret", true, false),
			adapters.FieldPlan{Field: "clientSecret", State: adapters.FieldChanged, Secret: true}},
		{"secret unread", Secret("clientSecret", false, true),
			adapters.FieldPlan{Field: "clientSecret", State: adapters.FieldUnknown, Secret: true}},
	} {
		g, w := tc.got, tc.want
		if g.Field != w.Field || g.State != w.State || g.Secret != w.Secret ||
			string(g.Current) != string(w.Current) || string(g.Desired) != string(w.Desired) ||
			(g.Current == nil) != (w.Current == nil) || (g.Desired == nil) != (w.Desired == nil) {
			t.Errorf("%s: got %+v, want %+v", tc.name, g, w)
		}
	}
}
