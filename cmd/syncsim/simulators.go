package main

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
)

// DefaultTokenLifetime is the lifetime of the simulators' access tokens and
// Auth-Keys unless --token-lifetime says otherwise: short, so that a
// development run sees them renewed.
const DefaultTokenLifetime = 5 * time.Minute

// simulator is one provider's simulator with the connection that points at
// it in examples/dev-batch.ndjson and deploy/docker-compose.config.yaml.
type simulator struct {
	// provider is the adapter name, also the flag's stem (--<provider>-addr).
	provider string
	// connection is the connection name the sample batch addresses.
	connection string
	title      string
	// defaultAddr is where it listens unless told otherwise: loopback.
	defaultAddr string
	handler     http.Handler
	// auth is a fixed credential the simulator accepts (used by probes).
	// These credentials are public development values, not secrets.
	auth map[string]string
	// tokenAuth, when set, is the connection's auth block in the compose
	// worker's config instead of auth: what the worker obtains short-lived
	// tokens with (tokenURL is a path under the simulator's address).
	tokenAuth map[string]string
	// has reports whether a resource id is seeded.
	has func(id string) bool
}

// simulators returns the four providers' simulators, seeded with the objects
// the sample batch (examples/dev-batch.ndjson) updates.
//
// The seed data and credentials are the same as `syncworker dev`'s
// (cmd/syncworker/dev.go, devProviders): they are repeated here because a
// main package cannot be imported. TestSeedsCoverDevBatch fails when the
// sample batch addresses an object seeded in neither. Unlike dev, requests
// are not recorded (NoRecord), so memory does not grow with a long run.
// Reelevant's token endpoint and jframework's login issue credentials of
// tokenLifetime (DefaultTokenLifetime when zero), so that a worker
// configured with tokenAuth renews them while it runs.
func simulators(latency, tokenLifetime time.Duration) []simulator {
	tokenLifetime = cmp.Or(tokenLifetime, DefaultTokenLifetime)
	rc := rocketchatsim.New(rocketchatsim.Options{UserID: "devUser0000000001", AuthToken: "dev-rocketchat-token",
		RateLimit: 1000, Latency: latency, NoRecord: true})
	for i, id := range []string{"65a7d77142a7e12453052d59", "65a7d77142a7e12453052d5a", "65a7d77142a7e12453052d5b"} {
		rc.Seed(rocketchatsim.App{ID: id, Name: fmt.Sprintf("sample-app-%d", i+1), Active: true,
			RedirectURI: "https://old.example.com/cb", ClientID: fmt.Sprintf("devClient%08d", i+1),
			ClientSecret: fmt.Sprintf("dev-client-secret-%d", i+1)})
	}
	rl := reelevantsim.New(reelevantsim.Options{Token: "dev-reelevant-token", Latency: latency, NoRecord: true,
		ClientID: "dev-reelevant-client-id", RefreshToken: "dev-reelevant-refresh-token", TokenLifetime: tokenLifetime})
	rl.Seed("65a7d77142a7e12453052d60", map[string]any{"mode": "refresh_token", "clientId": "dev-reelevant-client",
		"tokenUrl": "https://login.old.example.com/token", "scopes": []string{"read"}})
	hdp := hdpsim.New(hdpsim.Options{Username: "dev-hdp-user", Password: "dev-hdp-password", Latency: latency, NoRecord: true})
	hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "dev-hdp-client",
		ClientSecret: "dev-hdp-client-secret", AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize",
		TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	jf := jframeworksim.New(jframeworksim.Options{BrandURL: "dev.brand.example.com", AuthKey: "dev-jframework-key",
		Username: "dev-jf-user", Password: "dev-jf-password", KeyLifetime: tokenLifetime, Latency: latency, NoRecord: true})
	jf.Seed(jframeworksim.Integration{ID: "auth-dev-1", Code: "google", Name: "Google sign-in", ProjectID: "dev-project",
		ClientID: "dev-jf-client", ClientSecret: "dev-jf-client-secret", RedirectURI: "https://jf.old.example.com/cb", Scope: "openid email"})

	return []simulator{
		{provider: rocketchat.Provider, connection: "rc-dev", title: "Rocket.Chat", defaultAddr: "127.0.0.1:8081", handler: rc,
			auth: map[string]string{"userId": "devUser0000000001", "authToken": "dev-rocketchat-token"},
			has:  func(id string) bool { _, ok := rc.App(id); return ok }},
		{provider: reelevant.Provider, connection: "reelevant-dev", title: "Reelevant", defaultAddr: "127.0.0.1:8082", handler: rl,
			auth: map[string]string{"bearerToken": "dev-reelevant-token"},
			tokenAuth: map[string]string{"tokenURL": reelevantsim.TokenPath, "clientId": "dev-reelevant-client-id",
				"refreshToken": "dev-reelevant-refresh-token"},
			has: func(id string) bool { _, ok := rl.Client(id); return ok }},
		{provider: hybriddatapipeline.Provider, connection: "hdp-dev", title: "Hybrid Data Pipeline", defaultAddr: "127.0.0.1:8083", handler: hdp,
			auth: map[string]string{"username": "dev-hdp-user", "password": "dev-hdp-password"},
			has: func(id string) bool {
				n, err := strconv.ParseInt(id, 10, 64)
				if err != nil {
					return false
				}
				_, ok := hdp.App(n)
				return ok
			}},
		{provider: jframework.Provider, connection: "jf-dev", title: "jframework", defaultAddr: "127.0.0.1:8084", handler: jf,
			auth:      map[string]string{"brandURL": "dev.brand.example.com", "authKey": "dev-jframework-key"},
			tokenAuth: map[string]string{"brandURL": "dev.brand.example.com", "username": "dev-jf-user", "password": "dev-jf-password"},
			has:       func(id string) bool { _, ok := jf.Integration(id); return ok }},
	}
}
