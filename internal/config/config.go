package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oauthsync/oauthsync/adapters"
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
		// RejectUnknownConnections answers commands for unconfigured
		// connections with a rejected result (default true). It costs a
		// second delivery of every command to a catch-all consumer.
		RejectUnknownConnections *bool `yaml:"rejectUnknownConnections"`

		// RejectedResultTTL is how long a rejected command's result is
		// kept (Redis store; default 1h): see worker.Config.
		RejectedResultTTL Duration `yaml:"rejectedResultTTL"`
	} `yaml:"worker"`
	Connections map[string]Connection `yaml:"connections"`
}

// Connection is one configured connection of a provider.
type Connection struct {
	Provider string            `yaml:"provider"`
	BaseURL  string            `yaml:"baseURL"`
	Auth     map[string]string `yaml:"auth"`
	// RateLimit caps requests to the provider; zero means no limit.
	RateLimit struct {
		PerSecond float64 `yaml:"perSecond"`
		Burst     int     `yaml:"burst"`
	} `yaml:"rateLimit"`
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

// expandEnv replaces ${VAR} with the variable's value. A reference to an
// unset variable is an error naming it (never its value).
func expandEnv(b []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		name := string(envRef.FindSubmatch(m)[1])
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("config references unset environment variables: %v", slices.Compact(missing))
	}
	return out, nil
}

// parseConfig decodes YAML strictly: unknown keys are errors.
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
		if conn.RateLimit.PerSecond < 0 || conn.RateLimit.Burst < 0 || conn.MaxInFlight < 0 {
			errs = append(errs, fmt.Errorf("connections.%s: rateLimit and maxInFlight must not be negative", name))
		}
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

// Adapter returns what an adapter for the connection is built from: its
// credentials as messages.Secret (so they never print), and their values for
// scrubbing. The HTTP client is left to the caller.
func (c Connection) Adapter(name string) (adapters.Connection, []string) {
	auth := make(map[string]messages.Secret, len(c.Auth))
	secrets := make([]string, 0, len(c.Auth))
	for k, v := range c.Auth {
		auth[k] = messages.Secret(v)
		secrets = append(secrets, v)
	}
	return adapters.Connection{Name: name, BaseURL: c.BaseURL, Auth: auth}, secrets
}
