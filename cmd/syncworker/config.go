package main

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

	"github.com/oauthsync/oauthsync/messages"
)

// fileConfig is the YAML configuration of CONTRACT §6.
type fileConfig struct {
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
		MaxAge          duration `yaml:"maxAge"`
		DuplicateWindow duration `yaml:"duplicateWindow"`
	} `yaml:"streams"`
	Worker struct {
		Instance        string   `yaml:"instance"`
		AckWait         duration `yaml:"ackWait"`
		MaxDeliver      int      `yaml:"maxDeliver"`
		RetryBudget     duration `yaml:"retryBudget"`
		LeaseTTL        duration `yaml:"leaseTTL"`
		ResultTTL       duration `yaml:"resultTTL"`
		DrainTimeout    duration `yaml:"drainTimeout"`
		MaxCommandBytes int      `yaml:"maxCommandBytes"`
		FetchBatch      int      `yaml:"fetchBatch"`
		// RejectUnknownConnections answers commands for unconfigured
		// connections with a rejected result (default true). It costs a
		// second delivery of every command to a catch-all consumer.
		RejectUnknownConnections *bool `yaml:"rejectUnknownConnections"`
	} `yaml:"worker"`
	Connections map[string]connectionConfig `yaml:"connections"`
}

type connectionConfig struct {
	Provider string            `yaml:"provider"`
	BaseURL  string            `yaml:"baseURL"`
	Auth     map[string]string `yaml:"auth"`
	// RateLimit caps requests to the provider; zero means no limit.
	RateLimit struct {
		PerSecond float64 `yaml:"perSecond"`
		Burst     int     `yaml:"burst"`
	} `yaml:"rateLimit"`
	MaxInFlight int      `yaml:"maxInFlight"`
	Timeout     duration `yaml:"timeout"`
}

// duration is a time.Duration written as "30s" in YAML.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 5m", n.Line, n.Value)
	}
	*d = duration(v)
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
func parseConfig(b []byte, lookup func(string) (string, bool)) (*fileConfig, error) {
	b, err := expandEnv(b, lookup)
	if err != nil {
		return nil, err
	}
	var cfg fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &cfg, cfg.validate()
}

func loadConfig(path string) (*fileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(b, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func (c *fileConfig) validate() error {
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
