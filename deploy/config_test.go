package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/messages"
)

// The worker's configuration is decoded by internal/config. These tests read
// the keys it accepts from its source (the yaml tags of config.File in
// internal/config/config.go), so a
// configuration shipped here cannot drift from what the worker decodes,
// then apply the same rules: ${VAR} expansion with unset variables refused,
// unknown keys refused, typed values, and validate()'s checks.

const workerConfigSource = "../internal/config/config.go"

// configKey is the shape of one key of the worker's configuration.
type configKey struct {
	kind   string                // struct, map or scalar
	scalar string                // Go type of a scalar: string, int, float64, bool, duration
	fields map[string]*configKey // struct fields by yaml name
	elem   *configKey            // map values
}

// loadConfigSchema builds the key tree of config.File from the Go source.
func loadConfigSchema(t *testing.T) *configKey {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), workerConfigSource, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]ast.Expr{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			types[ts.Name.Name] = ts.Type
		}
		return true
	})
	var build func(e ast.Expr) *configKey
	build = func(e ast.Expr) *configKey {
		switch e := e.(type) {
		case *ast.StarExpr:
			return build(e.X)
		case *ast.MapType:
			return &configKey{kind: "map", elem: build(e.Value)}
		case *ast.StructType:
			k := &configKey{kind: "struct", fields: map[string]*configKey{}}
			for _, fl := range e.Fields.List {
				if fl.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(fl.Tag.Value)
				name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				k.fields[name] = build(fl.Type)
			}
			return k
		case *ast.Ident:
			switch e.Name {
			case "string", "int", "float64", "bool":
				return &configKey{kind: "scalar", scalar: e.Name}
			}
			def, ok := types[e.Name]
			if !ok {
				t.Fatalf("%s: type %s not found", workerConfigSource, e.Name)
			}
			if e.Name == "Duration" { // type Duration time.Duration, with UnmarshalYAML
				return &configKey{kind: "scalar", scalar: "duration"}
			}
			return build(def)
		case *ast.SelectorExpr:
			if e.Sel.Name == "Duration" {
				return &configKey{kind: "scalar", scalar: "duration"}
			}
		}
		t.Fatalf("%s: a field type the test does not know: %T", workerConfigSource, e)
		return nil
	}
	root, ok := types["File"]
	if !ok {
		t.Fatalf("%s: no type File", workerConfigSource)
	}
	schema := build(root)
	for _, k := range []string{"nats", "redis", "streams", "worker", "connections"} {
		if _, ok := schema.fields[k]; !ok {
			t.Fatalf("%s: File has no key %q: the schema reader is out of date", workerConfigSource, k)
		}
	}
	return schema
}

// envRef is cmd/syncworker's ${VAR} pattern.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// envRefs lists the variables a configuration references.
func envRefs(b []byte) []string {
	var names []string
	for _, m := range envRef.FindAllSubmatch(b, -1) {
		if n := string(m[1]); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// workerConfig is what the tests need of a configuration once checked.
type workerConfig struct {
	doc         map[string]any
	connections map[string]map[string]any
}

// duration returns a duration key ("worker.drainTimeout"), or def when it
// is absent or not a duration (the schema check reports that).
func (c workerConfig) duration(path string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(fmt.Sprint(c.get(path)))
	if err != nil {
		return def
	}
	return d
}

// get returns the value at a dotted path, or nil.
func (c workerConfig) get(path string) any {
	var cur any = c.doc
	for p := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// checkWorkerConfig applies the worker's decoding rules to a configuration,
// with env giving the variables' values (every ${VAR} must be in it), and
// builds each connection's adapter, which checks the provider name and the
// auth keys it needs. It returns what it found wrong.
func checkWorkerConfig(schema *configKey, name string, b []byte, env map[string]string) (workerConfig, []error) {
	var errs []error
	errorf := func(format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }
	c := workerConfig{connections: map[string]map[string]any{}}
	var missing []string
	expanded := envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		v, ok := env[string(envRef.FindSubmatch(m)[1])]
		if !ok {
			missing = append(missing, string(m))
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		errorf("references unset variables %v", missing)
		return c, errs
	}
	var root yaml.Node
	if err := yaml.Unmarshal(expanded, &root); err != nil {
		errorf("%v", err)
		return c, errs
	}
	if len(root.Content) != 1 {
		errorf("empty")
		return c, errs
	}
	var walk func(path string, n *yaml.Node, k *configKey)
	walk = func(path string, n *yaml.Node, k *configKey) {
		switch k.kind {
		case "struct", "map":
			if n.Kind != yaml.MappingNode {
				errorf("%s (line %d) must be a mapping", path, n.Line)
				return
			}
			for i := 0; i < len(n.Content); i += 2 {
				key, val := n.Content[i].Value, n.Content[i+1]
				sub := k.elem
				if k.kind == "struct" {
					var ok bool
					if sub, ok = k.fields[key]; !ok {
						errorf("line %d: unknown key %s (the worker refuses unknown keys)", n.Content[i].Line, strings.TrimPrefix(path+"."+key, "."))
						continue
					}
				}
				walk(strings.TrimPrefix(path+"."+key, "."), val, sub)
			}
		case "scalar":
			if n.Kind != yaml.ScalarNode {
				errorf("%s (line %d) must be a %s", path, n.Line, k.scalar)
				return
			}
			var err error
			switch k.scalar {
			case "int":
				_, err = strconv.Atoi(n.Value)
			case "float64":
				_, err = strconv.ParseFloat(n.Value, 64)
			case "bool":
				_, err = strconv.ParseBool(n.Value)
			case "duration":
				_, err = time.ParseDuration(n.Value)
			}
			if err != nil {
				errorf("%s = %q is not a %s", path, n.Value, k.scalar)
			}
		}
	}
	walk("", root.Content[0], schema)

	if err := yaml.Unmarshal(expanded, &c.doc); err != nil {
		errorf("%v", err)
		return c, errs
	}
	conns, _ := c.doc["connections"].(map[string]any)
	if len(conns) == 0 {
		errorf("connections: at least one connection is required")
	}
	reg := adapters.NewRegistry()
	reg.Register(hybriddatapipeline.Provider, hybriddatapipeline.New)
	reg.Register(jframework.Provider, jframework.New)
	reg.Register(reelevant.Provider, reelevant.New)
	reg.Register(rocketchat.Provider, rocketchat.New)
	for cn, v := range conns {
		cc, _ := v.(map[string]any)
		c.connections[cn] = cc
		if !messages.ValidConnection(cn) {
			errorf("connection name %q must match [a-z0-9_-]{1,64}", cn)
		}
		base := fmt.Sprint(cc["baseURL"])
		if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errorf("connections.%s.baseURL %q must be an absolute http(s) URL", cn, base)
		}
		auth := map[string]messages.Secret{}
		if a, ok := cc["auth"].(map[string]any); ok {
			for k, v := range a {
				// <key>File: the credential is read from that file by the
				// worker (internal/providers); the adapter sees <key>.
				if base, isFile := strings.CutSuffix(k, "File"); isFile && base != "" {
					if p := fmt.Sprint(v); !path.IsAbs(p) {
						errorf("connections.%s.auth.%s %q: want an absolute path (a mounted secret)", cn, k, p)
					}
					if _, dup := a[base]; dup {
						errorf("connections.%s.auth: %s and %s are both set", cn, base, k)
					}
					auth[base] = messages.Secret("placeholder-from-file")
					continue
				}
				auth[k] = messages.Secret(fmt.Sprint(v))
			}
		}
		if _, err := reg.New(fmt.Sprint(cc["provider"]), adapters.Connection{Name: cn, BaseURL: base, Auth: auth}); err != nil {
			errorf("connection %s: the %v adapter refuses it: %v", cn, cc["provider"], err)
		}
	}
	if s := c.get("streams.storage"); s != nil && s != "file" && s != "memory" {
		errorf("streams.storage must be file or memory, not %v", s)
	}
	ack := c.duration("worker.ackWait", 30*time.Second)
	if rb := c.duration("worker.retryBudget", ack/2); rb >= ack {
		errorf("worker.retryBudget %s must be below ackWait %s", rb, ack)
	}
	return c, errs
}

// mustWorkerConfig is checkWorkerConfig reporting to t.
func mustWorkerConfig(t *testing.T, name string, b []byte, env map[string]string) workerConfig {
	t.Helper()
	c, errs := checkWorkerConfig(loadConfigSchema(t), name, b, env)
	for _, err := range errs {
		t.Error(err)
	}
	return c
}

// placeholders gives every variable a configuration references a value.
func placeholders(b []byte) map[string]string {
	env := map[string]string{}
	for _, n := range envRefs(b) {
		env[n] = "placeholder-" + strings.ToLower(n)
		if strings.HasSuffix(n, "_URL") {
			env[n] = "https://" + strings.ToLower(strings.ReplaceAll(n, "_", "-")) + ".example.com"
		}
	}
	return env
}

func TestConfigSchemaFromSource(t *testing.T) {
	s := loadConfigSchema(t)
	conn := s.fields["connections"]
	if conn.kind != "map" || conn.elem.fields["auth"].kind != "map" || conn.elem.fields["baseURL"].scalar != "string" {
		t.Errorf("connections read as %+v", conn)
	}
	if k := s.fields["worker"].fields["drainTimeout"]; k == nil || k.scalar != "duration" {
		t.Errorf("worker.drainTimeout read as %+v", k)
	}
	// The reader refuses what the worker refuses.
	for _, bad := range []string{
		"connections: {a: {provider: rocketchat, baseURL: https://x.example.com, auth: {userId: u, authToken: t}}}\nworker: {drainTimout: 10s}",
		"connections: {a: {provider: rocketchat, baseURL: https://x.example.com, auth: {userId: u, authToken: t}}}\nworker: {drainTimeout: ten}",
		"connections: {a: {provider: rocketchat, baseURL: https://x.example.com, auth: {userId: u, authToken: t}, maxInFlight: many}}",
		"connections: {A: {provider: rocketchat, baseURL: https://x.example.com, auth: {userId: u, authToken: t}}}",
		"connections: {a: {provider: rocketchat, baseURL: https://x.example.com, auth: {user: u, authToken: t}}}",
		"connections: {a: {provider: slack, baseURL: https://x.example.com, auth: {}}}",
		"connections: {a: {provider: rocketchat, baseURL: x.example.com, auth: {userId: u, authToken: t}}}",
		"connections: {a: {provider: rocketchat, baseURL: https://x.example.com, auth: {userId: u, authToken: t}}}\nworker: {ackWait: 10s, retryBudget: 10s}",
		"connections: {a: {provider: rocketchat, baseURL: https://x.example.com, auth: {userId: '${UNSET}', authToken: t}}}",
	} {
		if _, errs := checkWorkerConfig(s, "bad", []byte(bad), nil); len(errs) == 0 {
			t.Errorf("accepted: %s", bad)
		}
	}
	good := "connections: {a: {provider: rocketchat, baseURL: https://x.example.com, auth: {userId: '${U}', authToken: t}}}"
	if _, errs := checkWorkerConfig(s, "good", []byte(good), map[string]string{"U": "u"}); len(errs) > 0 {
		t.Errorf("refused %s: %v", good, errs)
	}
}

func TestWorkerConfigExample(t *testing.T) {
	b := readFile(t, "config.example.yaml")
	mustWorkerConfig(t, "config.example.yaml", b, placeholders(b))
}

// readFile reads a file of this directory, failing the test if it cannot.
func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
