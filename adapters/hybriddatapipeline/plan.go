package hybriddatapipeline

import (
	"context"
	"strings"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/internal/fieldplan"
	"github.com/oauthsync/oauthsync/messages"
)

var _ adapters.Planner = (*adapter)(nil)

// Plan implements adapters.Planner: the read Apply makes (GET
// /api/mgmt/oauthapps/{id}, one request) and, for each field of u, the
// comparison Apply makes (holdsField). Current is the read's value in the
// field's canonical shape (scope split on white space into scopes; dataStore
// and tenantId as integers; null when the read has none); Desired is the
// value Apply would put in the PUT. clientSecret is a secret: no value, and
// FieldUnknown when the read does not show it in clear (absent, empty or
// masked). Like Apply, Plan fails with KindRejected when the update would
// need a write that the read lacks a required field for.
func (a *adapter) Plan(ctx context.Context, u adapters.Update) (adapters.Plan, error) {
	st, err := a.read(ctx, u)
	if err != nil {
		return adapters.Plan{}, err
	}
	o, c, nf := st.cur, st.c, st.nf
	names := u.Fields()
	p := adapters.Plan{Fields: make([]adapters.FieldPlan, 0, len(names)), Requests: 1}
	for _, f := range names {
		holds := o.holdsField(f, c, nf)
		var cur, want any
		switch f {
		case messages.FieldClientSecret:
			p.Fields = append(p.Fields, fieldplan.Secret(f, o.secretKnown(), holds))
			continue
		case messages.FieldName:
			cur, want = o.name, c.Name
		case messages.FieldDescription:
			cur, want = o.description, c.Description
		case messages.FieldClientID:
			cur, want = o.clientID, c.ClientID
		case messages.FieldScopes:
			if o.scope != nil {
				cur = strings.Fields(*o.scope)
			}
			want = c.Scopes
		case messages.FieldAuthorizeURL:
			cur, want = o.authorizeURI, c.AuthorizeURL
		case messages.FieldTokenURL:
			cur, want = o.tokenURI, c.TokenURL
		case messages.ProviderFieldPrefix + FieldDataStore:
			cur, want = o.dataStore, nf.dataStore
		case messages.ProviderFieldPrefix + FieldTenantID:
			cur, want = o.tenantID, nf.tenantID
		}
		p.Fields = append(p.Fields, fieldplan.Compared(f, holds, cur, want))
	}
	return p, nil
}
