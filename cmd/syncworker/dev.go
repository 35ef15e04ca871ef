package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/examples"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/messages"
)

// devProvider is one provider simulator of `syncworker dev` with the
// connection that points at it. Its credentials are not secrets, but the
// worker handles them as if they were.
type devProvider struct {
	connection, provider, title string
	sim                         http.Handler
	auth                        map[string]string
}

// devProviders returns the four providers' simulators, seeded with the
// objects the sample batch updates.
func devProviders() []devProvider {
	rc := rocketchatsim.New(rocketchatsim.Options{UserID: "devUser0000000001", AuthToken: "dev-rocketchat-token", RateLimit: 1000})
	for i, id := range []string{"65a7d77142a7e12453052d59", "65a7d77142a7e12453052d5a", "65a7d77142a7e12453052d5b"} {
		rc.Seed(rocketchatsim.App{ID: id, Name: fmt.Sprintf("sample-app-%d", i+1), Active: true,
			RedirectURI: "https://old.example.com/cb", ClientID: fmt.Sprintf("devClient%08d", i+1),
			ClientSecret: fmt.Sprintf("dev-client-secret-%d", i+1)})
	}
	rl := reelevantsim.New(reelevantsim.Options{Token: "dev-reelevant-token"})
	rl.Seed("65a7d77142a7e12453052d60", map[string]any{"mode": "refresh_token", "clientId": "dev-reelevant-client",
		"tokenUrl": "https://login.old.example.com/token", "scopes": []string{"read"}})
	hdp := hdpsim.New(hdpsim.Options{Username: "dev-hdp-user", Password: "dev-hdp-password"})
	hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "dev-hdp-client",
		ClientSecret: "dev-hdp-client-secret", AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize",
		TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	jf := jframeworksim.New(jframeworksim.Options{BrandURL: "dev.brand.example.com", AuthKey: "dev-jframework-key"})
	jf.Seed(jframeworksim.Integration{ID: "auth-dev-1", Code: "google", Name: "Google sign-in", ProjectID: "dev-project",
		ClientID: "dev-jf-client", ClientSecret: "dev-jf-client-secret", RedirectURI: "https://jf.old.example.com/cb", Scope: "openid email"})
	return []devProvider{
		{"rc-dev", rocketchat.Provider, "Rocket.Chat", rc, map[string]string{"userId": "devUser0000000001", "authToken": "dev-rocketchat-token"}},
		{"reelevant-dev", reelevant.Provider, "Reelevant", rl, map[string]string{"bearerToken": "dev-reelevant-token"}},
		{"hdp-dev", hybriddatapipeline.Provider, "Hybrid Data Pipeline", hdp, map[string]string{"username": "dev-hdp-user", "password": "dev-hdp-password"}},
		{"jf-dev", jframework.Provider, "jframework", jf, map[string]string{"brandURL": "dev.brand.example.com", "authKey": "dev-jframework-key"}},
	}
}

// runDev runs the whole product on one machine: embedded NATS, the KV dedup
// store, the four provider simulators, a worker, and a sample batch.
func runDev(ctx context.Context, o *options, stdout io.Writer, logger *slog.Logger) error {
	cfg := &config.File{Connections: map[string]config.Connection{}}
	var sims []string
	for _, p := range devProviders() {
		url, stop, err := serveLoopback(p.sim, logger)
		if err != nil {
			return err
		}
		defer stop()
		// One command at a time, so the sample reads the same on every
		// run: with more in flight, which of two commands on one resource
		// runs first (and so which one is reported superseded) varies.
		cfg.Connections[p.connection] = config.Connection{Provider: p.provider, BaseURL: url, Auth: p.auth, MaxInFlight: 1}
		sims = append(sims, fmt.Sprintf("  %-21s %s (connection %s)", p.title, url, p.connection))
	}
	o.natsURL, o.redisURL = "", "" // dev is embedded, whatever the environment says
	return serve(ctx, o, cfg, logger, func(ctx context.Context, r *running) error {
		return devSample(ctx, r, strings.Join(sims, "\n"), stdout)
	})
}

// devSample publishes examples/dev-batch.ndjson, prints the results as a
// table, then tells the user how to publish more, and waits.
func devSample(ctx context.Context, r *running, sims string, out io.Writer) error {
	results, err := r.js.OrderedConsumer(ctx, "SYNC_RESULTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{r.subjects.Results()}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("follow results: %w", err)
	}
	ids, err := publishBatch(ctx, r, examples.DevBatch, out)
	if err != nil {
		return err
	}
	got := map[string]messages.Result{}
	it, err := results.Messages()
	if err != nil {
		return fmt.Errorf("follow results: %w", err)
	}
	defer it.Stop()
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < len(ids) && time.Now().Before(deadline) && ctx.Err() == nil {
		m, err := it.Next(jetstream.NextMaxWait(time.Second))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("follow results: %w", err)
		}
		_ = m.Ack()
		ev, err := messages.DecodeResultEvent(m.Data())
		if err != nil {
			return fmt.Errorf("a result event did not decode: %w", err)
		}
		got[ev.Data.CommandID] = ev.Data
	}
	if ctx.Err() != nil {
		return nil
	}
	printResults(out, ids, got)
	fmt.Fprintf(out, `
The worker keeps running. In another terminal, publish more with syncctl:

  go run ./cmd/syncctl --server %s publish --connection rc-dev \
    --resource 65a7d77142a7e12453052d59 --set redirectUri=https://new.example.com/cb --wait
  go run ./cmd/syncctl --server %s migrate examples/migration.ndjson --report report.csv
  go run ./cmd/syncctl --server %s results --follow
  go run ./cmd/syncctl --server %s status

Provider simulators:
%s
Health: /healthz and /readyz, metrics: /metrics on http://%s. Stop with Ctrl-C.
`, r.natsURL, r.natsURL, r.natsURL, r.natsURL, sims, r.httpAddr)
	<-ctx.Done()
	return nil
}

// publishBatch publishes every line of an NDJSON batch on its subject and
// returns the distinct command ids in order. A repeated id is published
// without Nats-Msg-Id, to show that the worker's own dedup catches it.
func publishBatch(ctx context.Context, r *running, batch []byte, out io.Writer) ([]string, error) {
	var ids []string
	published := 0
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(batch))
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var head struct{ ID, Connection, Resource string }
		if err := json.Unmarshal(line, &head); err != nil {
			return nil, fmt.Errorf("sample batch line %d: %w", n, err)
		}
		msg := nats.NewMsg(r.subjects.Command(head.Connection, head.Resource))
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Data = append([]byte(nil), line...)
		var opts []jetstream.PublishOpt
		if !seen[head.ID] {
			opts = append(opts, jetstream.WithMsgID(head.ID))
			ids = append(ids, head.ID)
			seen[head.ID] = true
		}
		if _, err := r.js.PublishMsg(ctx, msg, opts...); err != nil {
			return nil, fmt.Errorf("publish sample line %d: %w", n, err)
		}
		published++
	}
	fmt.Fprintf(out, "Published %d sample commands (%d distinct ids) to %s; waiting for their results...\n\n", published, len(ids), r.natsURL)
	return ids, sc.Err()
}

func printResults(out io.Writer, ids []string, got map[string]messages.Result) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMAND\tCONNECTION\tRESOURCE\tSTATUS\tAPPLIED\tSKIPPED\tATTEMPTS\tERROR")
	for _, id := range ids {
		r, ok := got[id]
		if !ok {
			fmt.Fprintf(tw, "%s\t\t\t(no result yet)\t\t\t\t\n", id)
			continue
		}
		errText := ""
		if r.Error != nil {
			errText = string(r.Error.Code) + ": " + r.Error.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", id, r.Connection, r.Resource, r.Status,
			strings.Join(r.AppliedFields, ","), strings.Join(r.SkippedFields, ","), r.Attempts, errText)
	}
	_ = tw.Flush()
}

// serveLoopback serves h on a free loopback port.
func serveLoopback(h http.Handler, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("simulator failed", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
