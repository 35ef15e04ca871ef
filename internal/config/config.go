package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/messages"
)

// File is the YAML configuration of docs/CONTRACT.md §6.
type File struct {
	NATS struct {
		// URL of the NATS server; empty runs an embedded server.
		URL string `yaml:"url"`
		// Creds is a NATS credentials file.
		Creds string `yaml:"creds"`
		// SubjectPrefix is the subject prefix, "sync" by default.
		SubjectPrefix string `yaml:"subjectPrefix"`
	} `yaml:"nats"`
	Redis struct {
		// URL of Redis; empty keeps dedup state in a JetStream KV bucket.
		URL string `yaml:"url"`
		// KeyPrefix prefixes every key, "oauthsync" by default.
		KeyPrefix string `yaml:"keyPrefix"`
	} `yaml:"redis"`
	Streams struct {
		// Names override the stream names (SYNC_COMMANDS, SYNC_RESULTS, SYNC_DEADLETTER).
		Names struct {
			Commands   string `yaml:"commands"`
			Results    string `yaml:"results"`
			DeadLetter string `yaml:"deadLetter"`
		} `yaml:"names"`
		Storage         string   `yaml:"storage"` // file (default) or memory
		Replicas        int      `yaml:"replicas"`
		MaxAge          Duration `yaml:"maxAge"`
		DuplicateWindow Duration `yaml:"duplicateWindow"`
		// MaxBytes bounds each stream's storage (default 1 GiB, 64 MiB
		// in memory; -1 unlimited).
		MaxBytes int `yaml:"maxBytes"`
		// MaxMsgSize is the commands stream's largest message, headers
		// included (default worker.maxCommandBytes + 16 KiB; -1 unlimited).
		MaxMsgSize int `yaml:"maxMsgSize"`
	} `yaml:"streams"`
	Worker struct {
		Instance        string   `yaml:"instance"`
		AckWait         Duration `yaml:"ackWait"`
		MaxDeliver      int      `yaml:"maxDeliver"`
		RetryBudget     Duration `yaml:"retryBudget"`
		LeaseTTL        Duration `yaml:"leaseTTL"`
		ResultTTL       Duration `yaml:"resultTTL"`
		DrainTimeout    Duration `yaml:"drainTimeout"`
		MaxCommandBytes int      `yaml:"maxCommandBytes"`
		FetchBatch      int      `yaml:"fetchBatch"`
		// MaxParked bounds how long a command waits for flow control (an
		// open circuit, a provider's wait) before it is handed back and
		// counts as a delivery spent (default 15m): see worker.Config.
		MaxParked Duration `yaml:"maxParked"`
		// RejectUnknownConnections answers commands for unconfigured
		// connections with a rejected result (default true). It costs a
		// headers-only delivery of every command to a catch-all consumer,
		// acked a batch at a time.
		RejectUnknownConnections *bool `yaml:"rejectUnknownConnections"`
		// UnknownConnectionGrace is how long a command for a connection no
		// worker serves waits before it is rejected (default 5m).
		UnknownConnectionGrace Duration `yaml:"unknownConnectionGrace"`

		// RejectedResultTTL is how long a rejected command's result is
		// kept (Redis store; default 1h): see worker.Config.
		RejectedResultTTL Duration `yaml:"rejectedResultTTL"`
	} `yaml:"worker"`
	Connections map[string]Connection `yaml:"connections"`
}

// Connection is one configured connection of a provider.
type Connection struct {
	Provider string `yaml:"provider"`
	BaseURL  string `yaml:"baseURL"`
	// Auth holds the provider's credentials by key. Any key may instead be
	// given as key+FileSuffix (passwordFile: /run/secrets/jf-password): the
	// value is then read from that file (trailing line breaks dropped), and
	// read again while the worker runs, so that a rotated secret is picked
	// up without a restart (internal/providers.Build).
	Auth map[string]string `yaml:"auth"`
	// RateLimit caps requests to the provider, for the whole fleet
	// (shared through Redis; in the process without it); zero means no
	// limit. PerSecond may be fractional (0.1667: 10 a minute).
	RateLimit struct {
		PerSecond float64 `yaml:"perSecond"`
		Burst     int     `yaml:"burst"`
	} `yaml:"rateLimit"`
	// Circuit opens after Failures transient failures in a row (default 5;
	// -1: no circuit), among at least twice that many attempts in 30s, and
	// lets a probe through after OpenFor (default 30s).
	Circuit struct {
		Failures int      `yaml:"failures"`
		OpenFor  Duration `yaml:"openFor"`
	} `yaml:"circuit"`
	MaxInFlight int      `yaml:"maxInFlight"`
	Timeout     Duration `yaml:"timeout"`
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} with the variable's value in the YAML document's
// scalar values; comments and keys are left as written, so a ${VAR} in a
// comment is never expanded. A reference to an unset variable is an error
// naming it (never its value). A plain scalar is typed after expansion, as
// if the value had been written in its place (`perSecond: ${RATE}` is a
// number); a quoted one stays a string.
func expandEnv(b []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if doc.Kind == 0 {
		return b, nil // empty document
	}
	var missing []string
	expanded := false
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		switch n.Kind {
		case yaml.ScalarNode:
			if isKey || !envRef.MatchString(n.Value) {
				return
			}
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
				name := envRef.FindStringSubmatch(m)[1]
				v, ok := lookup(name)
				if !ok {
					missing = append(missing, name)
				}
				return v
			})
			n.Tag, n.Style = expandedTag(n)
			expanded = true
		case yaml.MappingNode:
			for i, c := range n.Content {
				walk(c, i%2 == 0)
			}
		default:
			for _, c := range n.Content {
				walk(c, false)
			}
		}
	}
	walk(&doc, false)
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("config references unset environment variables: %v", slices.Compact(missing))
	}
	if !expanded {
		return b, nil
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return out, nil
}

// expandedTag types an expanded scalar: a plain one as YAML would type its
// text written in place, when that text is a plain scalar of its own (a
// number, a boolean, null, a word); anything else is a double-quoted string,
// so that no value can add YAML syntax to the document.
func expandedTag(n *yaml.Node) (string, yaml.Style) {
	if n.Style == 0 {
		var alone yaml.Node
		if yaml.Unmarshal([]byte(n.Value), &alone) == nil && len(alone.Content) == 1 {
			if c := alone.Content[0]; c.Kind == yaml.ScalarNode && c.Style == 0 && c.Value == n.Value {
				return c.Tag, 0
			}
		}
		if n.Value == "" {
			return "!!null", 0
		}
	}
	return "!!str", yaml.DoubleQuotedStyle
}

// Parse expands ${VAR} references (see expandEnv) and decodes the YAML
// strictly: unknown keys are errors.
func Parse(b []byte, lookup func(string) (string, bool)) (*File, error) {
	b, err := expandEnv(b, lookup)
	if err != nil {
		return nil, err
	}
	var cfg File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &cfg, cfg.Validate()
}

// Load reads, expands (from the process environment) and parses the file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(b, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Validate reports every problem of the configuration at once.
func (c *File) Validate() error {
	var errs []error
	if len(c.Connections) == 0 {
		errs = append(errs, errors.New("connections: at least one connection is required"))
	}
	for name, conn := range c.Connections {
		if !messages.ValidConnection(name) {
			errs = append(errs, fmt.Errorf("connections.%s: name must match [a-z0-9_-]{1,64}", name))
		}
		if conn.Provider == "" {
			errs = append(errs, fmt.Errorf("connections.%s.provider is required", name))
		}
		u, err := url.Parse(conn.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("connections.%s.baseURL must be an absolute http(s) URL", name))
		}
		errs = append(errs, conn.validateAuth(name)...)
		if conn.RateLimit.PerSecond < 0 || conn.RateLimit.Burst < 0 || conn.MaxInFlight < 0 {
			errs = append(errs, fmt.Errorf("connections.%s: rateLimit and maxInFlight must not be negative", name))
		}
		if conn.Circuit.Failures < -1 || conn.Circuit.OpenFor < 0 {
			errs = append(errs, fmt.Errorf("connections.%s: circuit.failures is a count (-1: no circuit) and circuit.openFor a positive duration", name))
		}
	}
	if c.Streams.MaxBytes < -1 || c.Streams.MaxMsgSize < -1 || c.Streams.MaxMsgSize > math.MaxInt32 {
		errs = append(errs, errors.New("streams.maxBytes and streams.maxMsgSize must be positive (maxMsgSize below 2 GiB), or -1 for unlimited"))
	}
	if c.Worker.UnknownConnectionGrace < 0 {
		errs = append(errs, errors.New("worker.unknownConnectionGrace must not be negative"))
	}
	if c.Worker.MaxParked < 0 {
		errs = append(errs, errors.New("worker.maxParked must not be negative"))
	}
	switch c.Streams.Storage {
	case "", "file", "memory":
	default:
		errs = append(errs, fmt.Errorf("streams.storage must be file or memory, not %q", c.Streams.Storage))
	}
	return errors.Join(errs...)
}

// ConnectionNames returns the configured connection names, sorted.
func (c *File) ConnectionNames() []string {
	names := make([]string, 0, len(c.Connections))
	for n := range c.Connections {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// FileSuffix marks an auth key whose value is the path of a file holding
// the credential: refreshTokenFile gives refreshToken.
const FileSuffix = "File"

// SplitAuth separates the auth keys given in the config (static, by key)
// from those given as files (files, the path by the key without
// FileSuffix).
func (c Connection) SplitAuth() (static, files map[string]string) {
	static, files = map[string]string{}, map[string]string{}
	for k, v := range c.Auth {
		if base, ok := strings.CutSuffix(k, FileSuffix); ok && base != "" {
			files[base] = v
			continue
		}
		static[k] = v
	}
	return static, files
}

// validateAuth checks the file keys: a path, and never both key and
// key+FileSuffix.
func (c Connection) validateAuth(name string) []error {
	var errs []error
	_, files := c.SplitAuth()
	for _, key := range slices.Sorted(maps.Keys(files)) {
		if _, both := c.Auth[key]; both {
			errs = append(errs, fmt.Errorf("connections.%s.auth: %s and %s%s are both set; give one", name, key, key, FileSuffix))
		}
		if strings.TrimSpace(files[key]) == "" {
			errs = append(errs, fmt.Errorf("connections.%s.auth.%s%s: the path is empty", name, key, FileSuffix))
		}
	}
	return errs
}

// Adapter returns what an adapter for the connection is built from: its
// credentials as messages.Secret (so they never print), and their values for
// scrubbing. The HTTP client is left to the caller. Credentials given as
// files are not read: internal/providers.Build reads them.
func (c Connection) Adapter(name string) (adapters.Connection, []string) {
	static, _ := c.SplitAuth()
	auth := make(map[string]messages.Secret, len(static))
	secrets := make([]string, 0, len(static))
	for k, v := range static {
		auth[k] = messages.Secret(v)
		// Only secret-named values (tokens, passwords, keys) are scrubbed:
		// the scrubber also redacts any long run of a secret, so a URL or a
		// user name taken for one would redact host names and paths
		// everywhere.
		if redact.SecretKey(k) {
			secrets = append(secrets, v)
		}
	}
	return adapters.Connection{Name: name, BaseURL: c.BaseURL, Auth: auth}, secrets
}
