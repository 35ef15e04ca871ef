// Package providers is the explicit list of provider adapters the binaries
// support, built into an adapters.Registry without init() side effects.
package providers

import (
	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
)

// Registry returns a registry of the four providers of docs/CONTRACT.md §1.
func Registry() *adapters.Registry {
	r := adapters.NewRegistry()
	r.Register(hybriddatapipeline.Provider, hybriddatapipeline.New)
	r.Register(jframework.Provider, jframework.New)
	r.Register(reelevant.Provider, reelevant.New)
	r.Register(rocketchat.Provider, rocketchat.New)
	return r
}
