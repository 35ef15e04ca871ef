package reelevant

import (
	"context"
	"strings"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/internal/fieldplan"
	"github.com/oauthsync/oauthsync/messages"
)

var _ adapters.Planner = (*adapter)(nil)

// Plan implements adapters.Planner for a provider without a read: Reelevant's
// document has no GET for one OAuth client (its PATCH is a true partial
// update, so Apply never reads) and its clientSecret is write-only. Plan
// therefore validates u exactly as Apply does (the same prepare, so the same
// KindInvalid and KindUnsupported errors), makes no request (Requests 0)
// and reports every field FieldUnknown, Desired being the field's value in
// the PATCH body Apply would send: canonical fields under their own names
// (scopes as an array, [] for none), provider fields as decoded and checked
// (numbers keep their literal, object keys sorted). clientSecret and a
// configuration holding a clientSecret are secrets, without Desired.
//
// Without a request, Plan cannot see that the resource is missing or that
// the credentials are refused: Apply's PATCH is the first to tell. ctx is
// not used.
func (a *adapter) Plan(_ context.Context, u adapters.Update) (adapters.Plan, error) {
	p, err := prepare(u)
	if err != nil {
		return adapters.Plan{}, err
	}
	names := u.Fields()
	plan := adapters.Plan{Fields: make([]adapters.FieldPlan, 0, len(names))}
	for _, f := range names {
		// Canonical fields go under their own names, provider fields under
		// their native names; the two never share a name (prepare refuses
		// a canonical field's native name as a provider field).
		key := strings.TrimPrefix(f, messages.ProviderFieldPrefix)
		if p.secret[key] {
			plan.Fields = append(plan.Fields, fieldplan.Secret(f, false, false))
			continue
		}
		plan.Fields = append(plan.Fields, fieldplan.Unknown(f, p.body[key]))
	}
	return plan, nil
}
