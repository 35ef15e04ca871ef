package jframework

import (
	"context"
	"strings"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/internal/fieldplan"
	"github.com/oauthsync/oauthsync/messages"
)

var _ adapters.Planner = (*adapter)(nil)

// Plan implements adapters.Planner: the read Apply makes (GET
// /api/v1/app-integrations/authentication/{id}, one request) and, for each
// field of u, the comparison Apply makes (fieldInPlace). Current is the
// read's value in the field's canonical shape, null when the read has none:
// scope split on white space into scopes; status as active (true for
// Active, false for Inactive, null for no status or one outside the enum,
// which no active holds); a provider field as its native value
// (appIntegrationId from data.appIntegration.id; providerFields.status as
// the provider's string, whatever it is). Desired is the value Apply
// would write, active as a bool. clientSecret is a secret: no value, and
// FieldUnknown when the read does not return it. Like Apply, Plan fails
// with KindRejected when the update would need a write that the read lacks a
// required field for.
func (a *adapter) Plan(ctx context.Context, u adapters.Update) (adapters.Plan, error) {
	st, err := a.read(ctx, u)
	if err != nil {
		return adapters.Plan{}, err
	}
	o, c, nf := st.cur, st.c, st.nf
	names := u.Fields()
	p := adapters.Plan{Fields: make([]adapters.FieldPlan, 0, len(names)), Requests: 1}
	for _, f := range names {
		holds := fieldInPlace(o, c, nf, f)
		var cur, want any
		switch f {
		case messages.FieldClientSecret:
			p.Fields = append(p.Fields, fieldplan.Secret(f, o.ClientSecret != nil, holds))
			continue
		case messages.FieldName:
			cur, want = o.Name, c.Name
		case messages.FieldDescription:
			cur, want = o.Description, c.Description
		case messages.FieldClientID:
			cur, want = o.ClientID, c.ClientID
		case messages.FieldRedirectURI:
			cur, want = o.RedirectURI, c.RedirectURI
		case messages.FieldScopes:
			if o.Scope != nil {
				cur = strings.Fields(*o.Scope)
			}
			want = c.Scopes
		case messages.FieldAuthorizeURL:
			cur, want = o.AuthEndpoint, c.AuthorizeURL
		case messages.FieldTokenURL:
			cur, want = o.TokenEndpoint, c.TokenURL
		case messages.FieldActive:
			cur, want = activeOf(o.Status), c.Active
		case messages.ProviderFieldPrefix + fieldAppIntegrationID:
			cur, want = o.appIntegrationID(), nf.AppIntegrationID
		case messages.ProviderFieldPrefix + fieldCode:
			cur, want = o.Code, nf.Code
		case messages.ProviderFieldPrefix + fieldProjectID:
			cur, want = o.ProjectID, nf.ProjectID
		case messages.ProviderFieldPrefix + fieldIconURL:
			cur, want = o.IconURL, nf.IconURL.v
		case messages.ProviderFieldPrefix + fieldTags:
			cur, want = o.Tags, nf.Tags.v
		case messages.ProviderFieldPrefix + fieldStatus:
			cur, want = o.Status, nf.Status
		case messages.ProviderFieldPrefix + fieldIsDefault:
			cur, want = o.IsDefault, nf.IsDefault
		}
		p.Fields = append(p.Fields, fieldplan.Compared(f, holds, cur, want))
	}
	return p, nil
}

// activeOf is a read's status as canonical active: true for Active, false
// for Inactive, nil (JSON null) when the read has no status or one outside
// the enum, which canonical active cannot show.
func activeOf(status *string) *bool {
	if status == nil || (*status != StatusActive && *status != StatusInactive) {
		return nil
	}
	active := *status == StatusActive
	return &active
}
