package adapters

import (
	"fmt"
	"slices"
	"strings"
)

// Registry maps provider names to adapter factories. It is built explicitly in
// cmd; there is no global registry and no init() registration.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds a provider. It panics on a duplicate name: that is a wiring bug.
func (r *Registry) Register(provider string, f Factory) {
	if _, dup := r.factories[provider]; dup {
		panic(fmt.Sprintf("adapters: provider %q registered twice", provider))
	}
	r.factories[provider] = f
}

// Providers returns the registered provider names, sorted.
func (r *Registry) Providers() []string {
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New builds the adapter for provider on conn.
func (r *Registry) New(provider string, conn Connection) (Adapter, error) {
	f, ok := r.factories[provider]
	if !ok {
		return nil, fmt.Errorf("unknown provider %q (known: %s)", provider, strings.Join(r.Providers(), ", "))
	}
	a, err := f(conn)
	if err != nil {
		return nil, fmt.Errorf("connection %q (%s): %w", conn.Name, provider, err)
	}
	return a, nil
}
