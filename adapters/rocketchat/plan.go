package rocketchat

import (
	"context"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/internal/fieldplan"
	"github.com/oauthsync/oauthsync/messages"
)

var _ adapters.Planner = (*adapter)(nil)

// Plan implements adapters.Planner: the read Apply makes (GET
// oauth-apps.get, one request) and, for each field of u, the comparison
// Apply makes. Current is what the server stores, Desired what Apply would
// send: a redirectUri list normalized the way Rocket.Chat stores it (split
// on "," and newlines, trimmed, joined with ","). Rocket.Chat has no secret
// field an update can carry.
func (a *adapter) Plan(ctx context.Context, u adapters.Update) (adapters.Plan, error) {
	st, err := a.read(ctx, u)
	if err != nil {
		return adapters.Plan{}, err
	}
	fields := u.Fields()
	p := adapters.Plan{Fields: make([]adapters.FieldPlan, 0, len(fields)), Requests: 1}
	for _, f := range fields {
		var cur, want any
		switch f {
		case messages.FieldName:
			cur, want = st.cur.Name, st.want.Name
		case messages.FieldActive:
			cur, want = st.cur.Active, st.want.Active
		case messages.FieldRedirectURI:
			cur, want = st.cur.RedirectURI, st.want.RedirectURI
		}
		p.Fields = append(p.Fields, fieldplan.Compared(f, st.holds(f), cur, want))
	}
	return p, nil
}
