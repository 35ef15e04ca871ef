package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/providers"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/messages"
)

// TestDevRenewsShortLivedCredentials runs `syncworker dev --token-lifetime
// 2s`: the Reelevant and jframework connections obtain their credentials
// from the simulators' token endpoint and login (not fixed tokens), the
// sample batch is applied as before, a command published once the first
// credentials expired is applied with renewed ones (a second token request
// per connection on /metrics), and the config dev wrote carries the same
// auth, so that syncctl --config plans against both simulators.
func TestDevRenewsShortLivedCredentials(t *testing.T) {
	const lifetime = 2 * time.Second
	d := startDev(t, "--nats-port", strconv.Itoa(freePort(t)), "--sim-base-port", "0", "--token-lifetime", lifetime.String())
	configPath, out := d.until(t, "Config: ")
	started := time.Now() // the sample's credentials were issued before this
	rest, more := d.until(t, "Health: ")
	out = append(out, more...)
	_, after, _ := strings.Cut(rest, " on ")
	httpAddr, _, _ := strings.Cut(strings.TrimPrefix(after, "http://"), ". ")

	rows := map[string]string{}
	for _, line := range out {
		if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "dev-") {
			rows[f[0]] = line
		}
	}
	checkSampleRows(t, rows)

	// The sample obtained one credential per connection, from the
	// simulators: the connections hold no fixed token.
	metrics := get(t, httpAddr+"/metrics", 200)
	for _, conn := range []string{"reelevant-dev", "jf-dev"} {
		if n := tokenRequests(t, metrics, conn); n != 1 {
			t.Fatalf("%s: %v successful token requests after the sample, want 1:\n%s", conn, n, metrics)
		}
	}

	// The written config carries the credential flows, not fixed tokens,
	// and stays private.
	fi, err := os.Stat(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", configPath, fi.Mode().Perm())
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		t.Fatalf("the written config: %v", err)
	}
	for conn, keys := range map[string][]string{"reelevant-dev": {"tokenURL", "clientId", "refreshToken"},
		"jf-dev": {"brandURL", "username", "password"}} {
		c := cfg.Connections[conn]
		if len(c.Auth) != len(keys) {
			t.Errorf("%s auth has %d keys, want %v", conn, len(c.Auth), keys)
		}
		for _, k := range keys {
			if _, ok := c.Auth[k]; !ok {
				t.Errorf("%s auth lacks %q", conn, k)
			}
		}
	}

	// Wait until the sample's credentials are past their lifetime, then
	// publish one more command per connection.
	<-time.After(time.Until(started.Add(lifetime)))
	nc, err := nats.Connect(cfg.NATS.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	uri := "https://renewed.example.com/cb"
	scopes := []string{"read", "write", "admin"}
	cmds := []*messages.Command{
		messages.NewCommand("renew-jf", "/devtokens-test", "jf-dev", "auth-dev-1", messages.Data{Changes: messages.Changes{RedirectURI: &uri}}),
		messages.NewCommand("renew-reelevant", "/devtokens-test", "reelevant-dev", "65a7d77142a7e12453052d60",
			messages.Data{Changes: messages.Changes{Scopes: &scopes}}),
	}
	for _, c := range cmds {
		body, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(messages.Subjects{}.Command(c.Connection, c.Resource))
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Data = body
		if _, err := js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(c.ID)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status := map[string]messages.Status{}
	err = resultstream.Reader{JetStream: js}.Read(ctx, resultstream.Query{Follow: true}, func(it resultstream.Item) error {
		if it.Event != nil && strings.HasPrefix(it.Event.Data.CommandID, "renew-") {
			status[it.Event.Data.CommandID] = it.Status
		}
		if len(status) == len(cmds) {
			return resultstream.ErrStop
		}
		return nil
	})
	if err != nil {
		t.Fatalf("results of the commands after expiry: %v (got %v)", err, status)
	}
	for _, c := range cmds {
		if status[c.ID] != messages.StatusApplied {
			t.Errorf("%s after the credentials expired: %q, want applied", c.ID, status[c.ID])
		}
	}
	metrics = get(t, httpAddr+"/metrics", 200)
	for _, conn := range []string{"reelevant-dev", "jf-dev"} {
		if n := tokenRequests(t, metrics, conn); n != 2 {
			t.Errorf("%s: %v successful token requests, want 2 (the sample's, then a renewal):\n%s", conn, n, metrics)
		}
	}

	// syncctl --config builds its adapters from the written config, and
	// they obtain credentials with it: a jframework plan logs in and reads
	// the integration; Reelevant's plan makes no request (it has no read),
	// so its credentials are checked with an Apply of what the provider
	// already holds.
	build := func(conn string) adapters.Adapter {
		a, _, err := providers.Build(providers.Registry(), conn, cfg.Connections[conn], providers.Options{})
		if err != nil {
			t.Fatalf("%s from the written config: %v", conn, err)
		}
		return a
	}
	plan, err := build("jf-dev").(adapters.Planner).Plan(ctx, adapters.Update{Resource: "auth-dev-1", Changes: messages.Changes{RedirectURI: &uri}})
	if err != nil || len(plan.Fields) != 1 || plan.Fields[0].State != adapters.FieldUnchanged {
		t.Errorf("plan against jf-dev with the written config: %+v, %v (want redirectUri unchanged)", plan, err)
	}
	if _, err := build("reelevant-dev").Apply(ctx, adapters.Update{Resource: "65a7d77142a7e12453052d60", Changes: messages.Changes{Scopes: &scopes}}); err != nil {
		t.Errorf("apply to reelevant-dev with the written config: %v", err)
	}
}

// tokenRequests sums oauthsync_provider_token_requests_total of connection
// with status_class 2xx in Prometheus text.
func tokenRequests(t *testing.T, metrics, connection string) float64 {
	t.Helper()
	sum := 0.0
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "oauthsync_provider_token_requests_total{") ||
			!strings.Contains(line, fmt.Sprintf("connection=%q", connection)) || !strings.Contains(line, `status_class="2xx"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
