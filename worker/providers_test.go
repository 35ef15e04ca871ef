package worker_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
)

// providerCase drives one provider through the real worker, NATS and Redis.
type providerCase struct {
	provider, connection string
	// start runs the provider's simulator with one seeded object and
	// returns the adapter's connection settings and the simulator's hooks.
	start func(t *testing.T) providerSim
	// resource is the seeded object's id; badResource (if any) is a valid
	// subject token that breaks the provider's id pattern.
	resource, badResource string
	// update sets canonical and native fields; want is what the provider
	// then holds (native names); kept are untouched fields that must keep
	// their seeded values.
	update     messages.Data
	want, kept map[string]any
	// unsupported is a canonical field the provider has no place for (nil
	// when it supports them all); badNative breaks an enum or a type.
	unsupported *messages.Changes
	badNative   map[string]json.RawMessage
	// secrets must never show in logs, results or spans.
	secrets []string
	// partial: the provider takes partial updates, so nothing is read and
	// a repeat is written again rather than found unchanged.
	partial bool
}

type providerSim struct {
	url      string
	auth     map[string]messages.Secret
	factory  adapters.Factory
	read     func() map[string]any // the seeded object, by native field name
	requests func() int
	fail5xx  func()
	fail429  func(wait time.Duration)
}

func providerCases() []providerCase {
	const hdpSecret, jfSecret = "CANARY-hdp-stored-secret", "CANARY-jf-stored-secret"
	return []providerCase{
		{
			provider: reelevant.Provider, connection: "reelevant-test", partial: true,
			resource: "65a7d77142a7e12453052d59", badResource: "not-24-hex",
			start: func(t *testing.T) providerSim {
				sim := reelevantsim.New(reelevantsim.Options{Token: "CANARY-reelevant-token"})
				srv := httptest.NewServer(sim)
				t.Cleanup(srv.Close)
				sim.Seed("65a7d77142a7e12453052d59", map[string]any{"mode": "refresh_token", "clientId": "old-client",
					"tokenUrl": "https://login.example.com/token", "scopes": []string{"a"}, "accessTokenHeader": "authorization"})
				return providerSim{url: srv.URL, factory: reelevant.New,
					auth: map[string]messages.Secret{"bearerToken": "CANARY-reelevant-token"},
					read: func() map[string]any {
						c, _ := sim.Client("65a7d77142a7e12453052d59")
						return c
					},
					requests: func() int { return len(sim.Requests()) },
					fail5xx:  func() { sim.Fail(reelevantsim.Fault{Status: 502}) },
					fail429:  func(d time.Duration) { sim.Fail(reelevantsim.Fault{Status: 429, RetryAfter: d}) },
				}
			},
			update: messages.Data{Changes: messages.Changes{ClientSecret: ptr(messages.Secret("CANARY-reelevant-new-secret")),
				Scopes: &[]string{"read", "write"}, AuthorizeURL: ptr("https://login.example.com/authorize")},
				ProviderFields: map[string]json.RawMessage{"mode": json.RawMessage(`"client_credentials"`), "tokenExpiration": json.RawMessage(`3600`)}},
			want: map[string]any{"clientSecret": "CANARY-reelevant-new-secret", "scopes": []any{"read", "write"},
				"authorizeUrl": "https://login.example.com/authorize", "mode": "client_credentials", "tokenExpiration": 3600},
			kept:        map[string]any{"clientId": "old-client", "tokenUrl": "https://login.example.com/token", "accessTokenHeader": "authorization"},
			unsupported: &messages.Changes{Name: ptr("names are not Reelevant's")},
			badNative:   map[string]json.RawMessage{"mode": json.RawMessage(`"telepathy"`)},
			secrets:     []string{"CANARY-reelevant-token", "CANARY-reelevant-new-secret"},
		},
		{
			provider: hybriddatapipeline.Provider, connection: "hdp-test",
			resource: "93", badResource: "09x",
			start: func(t *testing.T) providerSim {
				sim := hdpsim.New(hdpsim.Options{Username: "CANARY-hdp-user", Password: "CANARY-hdp-password"})
				srv := httptest.NewServer(sim)
				t.Cleanup(srv.Close)
				sim.Seed(hdpsim.App{ID: 93, Name: "app_93", DataStore: 54, TenantID: 7, Description: "seeded",
					ClientID: "client-93", ClientSecret: hdpSecret, AuthorizeURI: "https://idp.example.com/auth",
					TokenURI: "https://idp.example.com/token", Scope: "openid profile"})
				return providerSim{url: srv.URL, factory: hybriddatapipeline.New,
					auth: map[string]messages.Secret{"username": "CANARY-hdp-user", "password": "CANARY-hdp-password"},
					read: func() map[string]any {
						a, _ := sim.App(93)
						return map[string]any{"name": a.Name, "dataStore": a.DataStore, "tenantId": a.TenantID, "description": a.Description,
							"clientId": a.ClientID, "clientSecret": a.ClientSecret, "authorizeURI": a.AuthorizeURI, "tokenURI": a.TokenURI, "scope": a.Scope}
					},
					requests: func() int { return len(sim.Requests()) },
					fail5xx:  func() { sim.Fail(hdpsim.Fault{Status: 500}) },
					fail429:  func(d time.Duration) { sim.Fail(hdpsim.Fault{Status: 429, RetryAfter: d}) },
				}
			},
			update: messages.Data{Changes: messages.Changes{Name: ptr("renamed_93"), Scopes: &[]string{"openid", "email"},
				TokenURL: ptr("https://idp.example.com/token2")}, ProviderFields: map[string]json.RawMessage{"dataStore": json.RawMessage(`62`)}},
			want: map[string]any{"name": "renamed_93", "scope": "openid email", "tokenURI": "https://idp.example.com/token2", "dataStore": int64(62)},
			kept: map[string]any{"tenantId": int64(7), "description": "seeded", "clientId": "client-93", "clientSecret": hdpSecret,
				"authorizeURI": "https://idp.example.com/auth"},
			unsupported: &messages.Changes{RedirectURI: ptr("https://x.example.com/cb")},
			badNative:   map[string]json.RawMessage{"dataStore": json.RawMessage(`"fifty-four"`)},
			secrets:     []string{"CANARY-hdp-password", hdpSecret},
		},
		{
			provider: jframework.Provider, connection: "jf-test",
			// jframework documents no id pattern beyond the contract's own
			// subject token pattern, so no routable id is invalid for it.
			resource: "auth-1",
			start: func(t *testing.T) providerSim {
				sim := jframeworksim.New(jframeworksim.Options{BrandURL: "brand.example.com", AuthKey: "CANARY-jf-auth-key"})
				srv := httptest.NewServer(sim)
				t.Cleanup(srv.Close)
				sim.Seed(jframeworksim.Integration{ID: "auth-1", AppIntegration: jframeworksim.AppIntegration{ID: "app-1"},
					Code: "google", Name: "Google sign-in", ProjectID: "proj-1", ClientID: "client-1", ClientSecret: jfSecret,
					RedirectURI: "https://old.example.com/cb", Scope: "openid", AuthEndpoint: ptr("https://accounts.example.com/auth"),
					TokenEndpoint: ptr("https://accounts.example.com/token"), Tags: ptr("sso"), Description: ptr("seeded"),
					Status: "Active", IsDefault: true})
				return providerSim{url: srv.URL, factory: jframework.New,
					auth: map[string]messages.Secret{"brandURL": "brand.example.com", "authKey": "CANARY-jf-auth-key"},
					read: func() map[string]any {
						in, _ := sim.Integration("auth-1")
						return map[string]any{"name": in.Name, "code": in.Code, "projectId": in.ProjectID, "clientId": in.ClientID,
							"clientSecret": in.ClientSecret, "redirectURI": in.RedirectURI, "scope": in.Scope, "status": in.Status,
							"isDefault": in.IsDefault, "authEndpoint": deref(in.AuthEndpoint), "tokenEndpoint": deref(in.TokenEndpoint),
							"tags": deref(in.Tags), "description": deref(in.Description), "appIntegrationId": in.AppIntegration.ID}
					},
					requests: func() int { return len(sim.Requests()) },
					fail5xx:  func() { sim.Fail(jframeworksim.Fault{Status: 503}) },
					fail429:  func(d time.Duration) { sim.Fail(jframeworksim.Fault{Status: 429, RateLimitReset: d}) },
				}
			},
			update: messages.Data{Changes: messages.Changes{RedirectURI: ptr("https://new.example.com/cb"), Active: ptr(false),
				Scopes: &[]string{"openid", "email"}}, ProviderFields: map[string]json.RawMessage{"tags": json.RawMessage(`"sso,beta"`)}},
			want: map[string]any{"redirectURI": "https://new.example.com/cb", "status": "Inactive", "scope": "openid email", "tags": "sso,beta"},
			kept: map[string]any{"name": "Google sign-in", "code": "google", "projectId": "proj-1", "clientId": "client-1", "clientSecret": jfSecret,
				"authEndpoint": "https://accounts.example.com/auth", "tokenEndpoint": "https://accounts.example.com/token",
				"description": "seeded", "isDefault": true, "appIntegrationId": "app-1"},
			badNative: map[string]json.RawMessage{"isDefault": json.RawMessage(`"yes"`)},
			secrets:   []string{"CANARY-jf-auth-key", jfSecret},
		},
	}
}

func TestEveryProviderThroughTheWorker(t *testing.T) {
	for _, pc := range providerCases() {
		t.Run(pc.provider, func(t *testing.T) {
			b := newBundle(t)
			sim := pc.start(t)
			a, err := pc.factory(sim)(adapters.Connection{Name: pc.connection, BaseURL: sim.url, Auth: sim.auth, HTTPClient: b.providerClient(pc.connection, pc.provider)})
			if err != nil {
				t.Fatal(err)
			}
			var secrets []string
			for _, s := range sim.auth {
				secrets = append(secrets, s.Reveal())
			}
			b.extra = []worker.Connection{{Name: pc.connection, Adapter: a, MaxInFlight: 2, Secrets: secrets}}
			b.start(b.config())
			cmd := func(id, resource string, data messages.Data) *messages.Command {
				return messages.NewCommand(id, "/test", pc.connection, resource, data)
			}

			// Refused before any call: a field the provider cannot hold, a
			// bad native value, a bad id.
			before := sim.requests()
			var refused []string
			if pc.unsupported != nil {
				b.publish(cmd(pc.provider+"-unsupported", pc.resource, messages.Data{Changes: *pc.unsupported}), true)
				refused = append(refused, pc.provider+"-unsupported")
			}
			b.publish(cmd(pc.provider+"-badnative", pc.resource, messages.Data{ProviderFields: pc.badNative}), true)
			refused = append(refused, pc.provider+"-badnative")
			if pc.badResource != "" {
				b.publish(cmd(pc.provider+"-badid", pc.badResource, messages.Data{Changes: pc.update.Changes}), true)
				refused = append(refused, pc.provider+"-badid")
			}
			wantCode := map[string]messages.ErrorCode{pc.provider + "-unsupported": messages.CodeUnsupportedField,
				pc.provider + "-badnative": messages.CodeInvalidCommand, pc.provider + "-badid": messages.CodeInvalidCommand}
			for _, id := range refused {
				r := b.result(id).Data
				if r.Status != messages.StatusRejected || r.Error == nil || r.Error.Code != wantCode[id] || r.Provider != pc.provider {
					t.Errorf("%s: %s %+v, want rejected %s", id, r.Status, r.Error, wantCode[id])
				}
			}
			if n := sim.requests() - before; n != 0 {
				t.Fatalf("refused commands made %d provider requests", n)
			}

			// 429 then 5xx, then the update lands with every untouched field kept.
			sim.fail429(200 * time.Millisecond)
			sim.fail5xx()
			b.publish(cmd(pc.provider+"-apply", pc.resource, pc.update), true)
			r := b.result(pc.provider + "-apply").Data
			if r.Status != messages.StatusApplied || r.Attempts < 3 {
				t.Fatalf("apply: %s attempts=%d error=%+v, want applied after a 429 and a 5xx", r.Status, r.Attempts, r.Error)
			}
			got := sim.read()
			for k, v := range pc.want {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("provider holds %s=%v, want %v", k, got[k], v)
				}
			}
			for k, v := range pc.kept {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("untouched field %s became %v, want it kept as %v", k, got[k], v)
				}
			}

			// The same values again: unchanged after one read, nothing
			// written; a partial-update provider (no read) is written again.
			writes := sim.requests()
			b.publish(cmd(pc.provider+"-again", pc.resource, pc.update), true)
			want := messages.StatusUnchanged
			if pc.partial {
				want = messages.StatusApplied
			}
			if r := b.result(pc.provider + "-again").Data; r.Status != want || sim.requests()-writes != 1 {
				t.Errorf("same values again: %s with %d requests, want %s after one request", r.Status, sim.requests()-writes, want)
			}

			// No secret in logs, results or spans, including the one the
			// provider's read echoes.
			var haystack strings.Builder
			haystack.WriteString(b.logs.String())
			for _, m := range b.allResults() {
				haystack.Write(m.Data)
			}
			for _, s := range b.spans.GetSpans() {
				fmt.Fprint(&haystack, s.Name, s.Attributes, s.Events, s.Status)
			}
			rm := b.collect()
			for _, v := range labelValues(rm) {
				fmt.Fprintln(&haystack, v)
			}
			wantNoIDsInLabels(t, rm, pc.resource, pc.provider+"-apply", pc.provider+"-again")
			if n := count(rm, mRequests, labels{"connection": pc.connection, "provider": pc.provider}); n < 4 {
				t.Errorf("provider requests counted %d, want at least 4 (429, 5xx, then the update)", n)
			}
			for _, s := range pc.secrets {
				if strings.Contains(haystack.String(), s) {
					t.Errorf("secret %q leaked", s)
				}
			}
		})
	}
}

func (pc providerCase) factory(sim providerSim) adapters.Factory { return sim.factory }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
