package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/messages"
)

// chaosProvider is one provider the run drives: its simulator, how its
// resources look, which requests are writes, and what a command sets.
type chaosProvider struct {
	name       string // the worker's provider name
	connection string // the connection the run configures for it
	// auth is the connection's auth block (YAML flow mapping) of a worker
	// slot: each slot's credential names it (slotCredential).
	auth func(slot int) string
	// fieldNames maps the canonical names the provider spells otherwise
	// to its own.
	fieldNames map[string]string
	handler    http.Handler
	// ids returns n resource ids whose last digit is the resource's class.
	ids func(n int) []string
	// seed stores a resource in the simulator and returns its tracked
	// fields (provider names, checker form).
	seed func(id string) map[string]string
	// write says whether r writes a resource, which, and whether the body
	// replaces the whole object (full) or only the keys present.
	write func(r *http.Request) (resource string, full, ok bool)
	// state returns a resource's tracked fields at the provider.
	state func(id string) (map[string]string, bool)
	// changes returns what a command with tag sets: the canonical changes
	// and the provider fields they become (checker form), the secret
	// included. Every value carries tag.
	changes func(rng *rand.Rand, tag, secret string) (messages.Changes, map[string]string)
}

var providerNames = []string{"reelevant", "hybriddatapipeline"}

func newChaosProvider(name string) (*chaosProvider, error) {
	switch name {
	case "reelevant":
		return newReelevant(), nil
	case "hybriddatapipeline":
		return newHDP(), nil
	}
	return nil, fmt.Errorf("provider %q: want one of %s", name, strings.Join(providerNames, ", "))
}

// newReelevant drives Reelevant: PATCH of the keys present, no read.
func newReelevant() *chaosProvider {
	sim := reelevantsim.New(reelevantsim.Options{Token: chaosToken, NoRecord: true})
	return &chaosProvider{
		name: "reelevant", connection: "chaos-rl", auth: func(slot int) string { return "{bearerToken: " + slotCredential(chaosToken, slot) + "}" }, handler: sim,
		ids: resourceIDs,
		seed: func(id string) map[string]string {
			f := map[string]any{"clientId": "seed-" + id, "tokenUrl": "https://t.example.com/seed", "authorizeUrl": "https://a.example.com/seed"}
			sim.Seed(id, f)
			return map[string]string{"clientId": "seed-" + id, "tokenUrl": "https://t.example.com/seed", "authorizeUrl": "https://a.example.com/seed"}
		},
		write: func(r *http.Request) (string, bool, bool) {
			id, ok := strings.CutPrefix(r.URL.Path, reelevantsim.PathPrefix)
			return id, false, ok && r.Method == http.MethodPatch
		},
		state: func(id string) (map[string]string, bool) {
			c, ok := sim.Client(id)
			if !ok {
				return nil, false
			}
			m := make(map[string]string, len(c))
			for k, v := range c {
				m[k] = fieldValue(v)
			}
			return m, true
		},
		changes: func(rng *rand.Rand, tag, secret string) (messages.Changes, map[string]string) {
			var c messages.Changes
			f := map[string]string{"clientSecret": secret}
			c.ClientSecret = ptr(messages.Secret(secret))
			mask := 1 + rng.IntN(15) // a non-empty subset of the other four
			if mask&1 != 0 {
				c.ClientID, f["clientId"] = ptr("cid-"+tag), "cid-"+tag
			}
			if mask&2 != 0 {
				c.Scopes, f["scopes"] = &[]string{"s-" + tag}, "s-"+tag
			}
			if mask&4 != 0 {
				c.AuthorizeURL, f["authorizeUrl"] = ptr("https://a.example.com/"+tag), "https://a.example.com/"+tag
			}
			if mask&8 != 0 {
				c.TokenURL, f["tokenUrl"] = ptr("https://t.example.com/"+tag), "https://t.example.com/"+tag
			}
			return c, f
		},
	}
}

// resourceIDs returns n Reelevant ids (24 hex digits) whose last digit is
// the resource's class.
func resourceIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%023x%d", i+1, i%3)
	}
	return ids
}

// newHDP drives Hybrid Data Pipeline: read, merge, PUT of the whole object.
func newHDP() *chaosProvider {
	const user, password = "chaos", "hdp-Zr4Tn8Wq3Ys6Pj"
	sim := hdpsim.New(hdpsim.Options{Username: user, Password: password, NoRecord: true})
	tracked := func(a hdpsim.App) map[string]string {
		return map[string]string{"name": a.Name, "clientId": a.ClientID, "clientSecret": a.ClientSecret,
			"authorizeURI": a.AuthorizeURI, "tokenURI": a.TokenURI, "scope": a.Scope}
	}
	return &chaosProvider{
		name: "hybriddatapipeline", connection: "chaos-hdp", auth: func(slot int) string {
			return fmt.Sprintf("{username: %s, password: %s}", slotCredential(user, slot), password)
		},
		handler:    sim,
		fieldNames: map[string]string{"scopes": "scope", "authorizeUrl": "authorizeURI", "tokenUrl": "tokenURI"},
		ids: func(n int) []string {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = strconv.Itoa((i+1)*10 + i%3)
			}
			return ids
		},
		seed: func(id string) map[string]string {
			n, _ := strconv.ParseInt(id, 10, 64)
			a := sim.Seed(hdpsim.App{ID: n, Name: "seed_" + id, DataStore: 54, TenantID: 1, ClientID: "seed-" + id,
				ClientSecret: "seed-secret-" + id, AuthorizeURI: "https://a.example.com/seed", TokenURI: "https://t.example.com/seed", Scope: "seed"})
			return tracked(a)
		},
		write: func(r *http.Request) (string, bool, bool) {
			id, ok := strings.CutPrefix(r.URL.Path, hdpsim.PathPrefix+"/")
			return id, true, ok && r.Method == http.MethodPut
		},
		state: func(id string) (map[string]string, bool) {
			n, _ := strconv.ParseInt(id, 10, 64)
			a, ok := sim.App(n)
			if !ok {
				return nil, false
			}
			return tracked(a), true
		},
		changes: func(rng *rand.Rand, tag, secret string) (messages.Changes, map[string]string) {
			var c messages.Changes
			f := map[string]string{"clientSecret": secret}
			c.ClientSecret = ptr(messages.Secret(secret))
			mask := 1 + rng.IntN(31) // a non-empty subset of the other five
			if mask&1 != 0 {
				name := "n_" + strings.NewReplacer("-", "_", ".", "_").Replace(tag)
				c.Name, f["name"] = ptr(name), name
			}
			if mask&2 != 0 {
				c.ClientID, f["clientId"] = ptr("cid-"+tag), "cid-"+tag
			}
			if mask&4 != 0 {
				c.Scopes, f["scope"] = &[]string{"s-" + tag}, "s-"+tag
			}
			if mask&8 != 0 {
				c.AuthorizeURL, f["authorizeURI"] = ptr("https://a.example.com/"+tag), "https://a.example.com/"+tag
			}
			if mask&16 != 0 {
				c.TokenURL, f["tokenURI"] = ptr("https://t.example.com/"+tag), "https://t.example.com/"+tag
			}
			return c, f
		},
	}
}
