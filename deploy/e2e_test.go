package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
)

// violationLog records what a NATS server logs about permission violations.
type violationLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *violationLog) record(format string, v ...any) {
	if s := fmt.Sprintf(format, v...); strings.Contains(s, "Violation") {
		l.mu.Lock()
		l.lines = append(l.lines, s)
		l.mu.Unlock()
	}
}
func (l *violationLog) Noticef(format string, v ...any) { l.record(format, v...) }
func (l *violationLog) Warnf(format string, v ...any)   { l.record(format, v...) }
func (l *violationLog) Fatalf(format string, v ...any)  { l.record(format, v...) }
func (l *violationLog) Errorf(format string, v ...any)  { l.record(format, v...) }
func (l *violationLog) Debugf(format string, v ...any)  {}
func (l *violationLog) Tracef(format string, v ...any)  {}

// TestProductionConfigEndToEnd runs the real worker binary with the
// Kubernetes ConfigMap's configuration (baseURLs pointed at the provider
// simulators, one JetStream replica), its credentials given as the Secret
// gives them, against a NATS server started from nats/nats-server.conf (one
// node: the cluster block dropped) as the worker's restricted user, and a
// Redis started from redis/redis.conf and users.acl as the ACL user. A
// publisher with the publisher user's permissions sends one command per
// connection; each must be applied, no permission may be violated, and the
// worker must stop cleanly on SIGTERM.
func TestProductionConfigEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "syncworker")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is required to build the worker: %v", err)
	}
	// Built in the product's module (the repository root), not deploy's own.
	build := exec.Command(goBin, append(append([]string{"build"}, testenv.GoBuildFlags()...), "-o", bin, "./cmd/syncworker")...)
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/syncworker: %v\n%s", err, out)
	}

	// Redis for production, as the ACL user.
	sock, redisPassword, _ := startProductionRedis(t)

	// NATS from the production configuration, as one node.
	opts := loadNATSConf(t)
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.HTTPHost, opts.HTTPPort = "127.0.0.1", server.RANDOM_PORT
	opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
	opts.StoreDir = filepath.Join(dir, "jetstream")
	opts.NoSigs = true
	worker := natsUser(t, opts, "syncworker")
	// A test-only user of the same account, without restrictions, reads
	// the results.
	opts.Users = append(opts.Users, &server.User{Username: "e2e-reader", Password: "e2e-reader", Account: worker.Account})
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server with nats-server.conf: %v", err)
	}
	violations := &violationLog{}
	ns.SetLoggerV2(violations, false, false, false)
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	natsURL := func(user, password string) string {
		u, _ := url.Parse(ns.ClientURL())
		u.User = url.UserPassword(user, password)
		return u.String()
	}

	// The four providers' simulators, with credentials standing for the
	// Secret's values.
	creds := map[string]string{
		"RC_USER_ID": "e2eUser0000000001", "RC_AUTH_TOKEN": "e2e-rocketchat-token",
		"RL_CLIENT_ID": "e2e-reelevant-client", "RL_USERNAME": "e2e-reelevant-user", "RL_PASSWORD": "e2e-reelevant-password",
		"HDP_USER": "e2e-hdp-user", "HDP_PASSWORD": "e2e-hdp-password",
		"JF_BRAND_URL": "e2e.brand.example.com", "JF_USERNAME": "e2e-jf-user", "JF_PASSWORD": "e2e-jf-password",
	}
	rc := rocketchatsim.New(rocketchatsim.Options{UserID: creds["RC_USER_ID"], AuthToken: creds["RC_AUTH_TOKEN"]})
	rc.Seed(rocketchatsim.App{ID: "65a7d77142a7e12453052d59", Name: "app", Active: true, RedirectURI: "https://old.example.com/cb",
		ClientID: "client", ClientSecret: "secret"})
	rl := reelevantsim.New(reelevantsim.Options{ClientID: creds["RL_CLIENT_ID"], Username: creds["RL_USERNAME"], Password: creds["RL_PASSWORD"]})
	rl.Seed("65a7d77142a7e12453052d60", map[string]any{"mode": "refresh_token", "clientId": "client"})
	hdp := hdpsim.New(hdpsim.Options{Username: creds["HDP_USER"], Password: creds["HDP_PASSWORD"]})
	hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "client", ClientSecret: "secret",
		AuthorizeURI: "https://login.example.com/authorize", TokenURI: "https://login.example.com/token", Scope: "api"})
	jf := jframeworksim.New(jframeworksim.Options{BrandURL: creds["JF_BRAND_URL"], Username: creds["JF_USERNAME"], Password: creds["JF_PASSWORD"]})
	jf.Seed(jframeworksim.Integration{ID: "auth-e2e-1", Code: "google", Name: "Google", ProjectID: "project",
		ClientID: "client", ClientSecret: "secret", RedirectURI: "https://old.example.com/cb", Scope: "openid"})
	sims := map[string]*httptest.Server{}
	for provider, h := range map[string]http.Handler{"rocketchat": rc, "reelevant": rl, "hybriddatapipeline": hdp, "jframework": jf} {
		sims[provider] = httptest.NewServer(h)
		t.Cleanup(sims[provider].Close)
	}

	// The ConfigMap's configuration with the simulators' URLs and one replica.
	m := loadManifests(t)
	var cfg yaml.Node
	if err := yaml.Unmarshal([]byte(m.configMap.Data["config.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	commands := map[string]string{ // connection: command data
		"rc-prod":        `{"changes":{"redirectUri":"https://e2e.example.com/cb"}}`,
		"reelevant-prod": `{"changes":{"tokenUrl":"https://e2e.example.com/token"}}`,
		"hdp-prod":       `{"changes":{"description":"e2e"}}`,
		"jf-prod":        `{"changes":{"name":"Google e2e"}}`,
	}
	resources := map[string]string{"rocketchat": "65a7d77142a7e12453052d59", "reelevant": "65a7d77142a7e12453052d60",
		"hybriddatapipeline": "93", "jframework": "auth-e2e-1"}
	connProvider := map[string]string{}
	setYAML(t, &cfg, "streams.replicas", "1")
	setYAML(t, &cfg, "worker.drainTimeout", "3s")
	for conn := range m.workerConfig(t).connections {
		provider := yamlValue(t, &cfg, "connections."+conn+".provider")
		connProvider[conn] = provider
		setYAML(t, &cfg, "connections."+conn+".baseURL", sims[provider].URL)
		if provider == "reelevant" {
			setYAML(t, &cfg, "connections."+conn+".auth.tokenURL", sims[provider].URL+reelevantsim.TokenPath)
		}
		if _, ok := commands[conn]; !ok {
			t.Fatalf("no test command for connection %s of the ConfigMap", conn)
		}
	}
	b, err := yaml.Marshal(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The Secret's keys as files, where the Deployment mounts them.
	secretsDir := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secretsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for k, v := range creds {
		if err := os.WriteFile(filepath.Join(secretsDir, k), []byte(v+"\n"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	for _, vm := range m.worker(t).VolumeMounts {
		if vm.Name == "credentials" {
			b = []byte(strings.ReplaceAll(string(b), vm.MountPath+"/", secretsDir+"/"))
		}
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// The worker, with the environment the Deployment gives it.
	envFromSecret := map[string]string{
		"NATS_URL":  natsURL("syncworker", "test-syncworker_nats_password"),
		"REDIS_URL": (&url.URL{Scheme: "unix", User: url.UserPassword("oauthsync", redisPassword), Path: sock}).String(),
	}
	for k, v := range creds {
		envFromSecret[k] = v
	}
	cmd := exec.Command(bin, "--config", cfgPath, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for _, e := range m.worker(t).Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v, ok := envFromSecret[e.ValueFrom.SecretKeyRef.Key]
			if !ok {
				t.Fatalf("no test value for the Secret's %s", e.ValueFrom.SecretKeyRef.Key)
			}
			cmd.Env = append(cmd.Env, e.Name+"="+v)
		case e.ValueFrom == nil && !strings.HasPrefix(e.Name, "OTEL_"): // no collector here
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	// A publisher with the publisher user's permissions.
	pub, err := nats.Connect(natsURL("publisher", "test-publisher_nats_password"))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pjs, err := jetstream.New(pub)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for conn, data := range commands {
		resource := resources[connProvider[conn]]
		id := "e2e-" + conn
		body := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/e2e","type":%q,"connection":%q,"resource":%q,"data":%s}`,
			id, messages.CommandType, conn, resource, data)
		msg := nats.NewMsg(messages.Subjects{}.Command(conn, resource))
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Data = []byte(body)
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := pjs.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrNoStreamResponse) || time.Now().After(deadline) {
				t.Fatalf("publish %s: %v\nworker:\n%s", id, err, stderr.String())
			}
			select {
			case err := <-exited:
				t.Fatalf("the worker exited (%v):\n%s", err, stderr.String())
			case <-time.After(100 * time.Millisecond): // the worker creates the stream at start
			}
		}
	}

	// Every command applied.
	reader, err := nats.Connect(natsURL("e2e-reader", "e2e-reader"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	rjs, err := jetstream.New(reader)
	if err != nil {
		t.Fatal(err)
	}
	results, err := rjs.OrderedConsumer(ctx, "SYNC_RESULTS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < len(commands) && time.Now().Before(deadline) {
		msg, err := results.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Data struct {
				CommandID, Status string
				Error             any
			}
		}
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		got[ev.Data.CommandID] = ev.Data.Status
		if ev.Data.Status != string(messages.StatusApplied) {
			t.Errorf("%s: %s %v", ev.Data.CommandID, ev.Data.Status, ev.Data.Error)
		}
	}
	if len(got) != len(commands) {
		t.Errorf("results %v, want one per connection\nworker:\n%s", got, stderr.String())
	}
	if app, _ := rc.App("65a7d77142a7e12453052d59"); app.RedirectURI != "https://e2e.example.com/cb" {
		t.Errorf("the Rocket.Chat simulator holds redirectUri %q", app.RedirectURI)
	}
	if rl.TokenRequests() == 0 || jf.Logins() == 0 {
		t.Errorf("reelevant token requests %d, jframework logins %d: the ConfigMap's credentials were not used to obtain tokens",
			rl.TokenRequests(), jf.Logins())
	}

	// Ready under these permissions (it reads streams and consumers), and
	// /metrics speaks the names the dashboard and the alerts use.
	addr := regexp.MustCompile(`"msg":"HTTP endpoints[^\n]*"addr":"([^"]+)"`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("the worker did not log its HTTP address:\n%s", stderr.String())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + addr[1] + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	ms := loadMetrics(t)
	for _, name := range []string{"oauthsync_commands_total", "oauthsync_command_end_to_end_duration_seconds_bucket",
		"oauthsync_command_processing_duration_seconds_bucket", "oauthsync_provider_requests_total",
		"oauthsync_commands_in_flight", "oauthsync_consumer_pending", "oauthsync_consumer_ack_pending",
		"oauthsync_dedup_store_duration_seconds_bucket"} {
		if _, _, ok := series(ms, name); !ok {
			t.Fatalf("%s is not a METRICS.md series", name)
		}
		if !regexp.MustCompile(`(?m)^` + name + `\{[^}]*connection="rc-prod"|(?m)^` + name + `\{[^}]*operation=`).MatchString(body) {
			t.Errorf("/metrics has no %s series for rc-prod (or by operation)", name)
		}
	}

	// Stop as Kubernetes does.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the worker after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the worker did not stop within 30s of SIGTERM\n%s", stderr.String())
	}
	violations.mu.Lock()
	defer violations.mu.Unlock()
	for _, v := range slices.Compact(violations.lines) {
		t.Errorf("nats-server: %s", v)
	}
	if strings.Contains(stderr.String(), "NOPERM") || strings.Contains(stderr.String(), "ermissions") {
		t.Errorf("the worker met a permission refusal:\n%s", stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's writes and the test's reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// yamlLookup finds the node at a dotted path of a YAML document.
func yamlLookup(t *testing.T, doc *yaml.Node, path string) (*yaml.Node, *yaml.Node) {
	t.Helper()
	n := doc
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	var parent *yaml.Node
	for p := range strings.SplitSeq(path, ".") {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return n, nil
		}
		parent, n = n, next
	}
	return parent, n
}

func yamlValue(t *testing.T, doc *yaml.Node, path string) string {
	t.Helper()
	_, n := yamlLookup(t, doc, path)
	if n == nil {
		t.Fatalf("config: no %s", path)
	}
	return n.Value
}

// setYAML sets the scalar at a dotted path, which must exist.
func setYAML(t *testing.T, doc *yaml.Node, path, value string) {
	t.Helper()
	_, n := yamlLookup(t, doc, path)
	if n == nil {
		t.Fatalf("config: no %s", path)
	}
	n.Value, n.Tag, n.Style = value, "", 0
}
