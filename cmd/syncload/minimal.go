package main

// The minimal pipeline: the product's I/O per command and nothing else, with
// no product code (no worker/, adapters/ or messages/ in its path):
//
//	durable pull (Fetch of up to 64) -> Redis claim (SET NX PX, one
//	pipelined round trip per fetched batch) -> the provider's HTTP
//	call(s), the same requests the adapter sends -> Redis done (SET PX,
//	one pipelined round trip for the dones that are ready together) ->
//	async publish of a result event to JetStream -> ack after its
//	publish ack.
//
// It runs as a child process (syncload _minimal -config FILE) so that its
// CPU and peak RSS are its own. It holds messages as the worker does:
// maxInFlight goroutines work on commands, and the pull holds at most
// maxInFlight + min(maxInFlight, 64) messages.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// minimalConfig is what the parent hands the minimal pipeline child.
type minimalConfig struct {
	NATSURL       string            `json:"natsURL"`
	RedisURL      string            `json:"redisURL"`
	KeyPrefix     string            `json:"keyPrefix"`
	SubjectPrefix string            `json:"subjectPrefix"`
	Stream        string            `json:"stream"`
	Consumer      string            `json:"consumer"`
	Connection    string            `json:"connection"`
	Provider      string            `json:"provider"`
	BaseURL       string            `json:"baseURL"`
	Creds         map[string]string `json:"creds"`
	MaxInFlight   int               `json:"maxInFlight"`
	FetchBatch    int               `json:"fetchBatch"`
}

// The worker's defaults the minimal pipeline keeps too.
const (
	minimalClaimTTL  = 15 * time.Second // worker LeaseTTL
	minimalResultTTL = 72 * time.Hour   // worker ResultTTL
	minimalUserAgent = "oauthsync-syncworker"
)

// minCommand is the part of a command the pipeline reads.
type minCommand struct {
	ID         string `json:"id"`
	Connection string `json:"connection"`
	Resource   string `json:"resource"`
	Data       struct {
		Changes minChanges `json:"changes"`
	} `json:"data"`
}

// minChanges holds the canonical changes syncload's commands set.
type minChanges struct {
	Name     *string `json:"name,omitempty"`
	ClientID *string `json:"clientId,omitempty"`
}

// fields is the list of changed fields, for the result event.
func (c minChanges) fields() []string {
	f := []string{}
	if c.Name != nil {
		f = append(f, "name")
	}
	if c.ClientID != nil {
		f = append(f, "clientId")
	}
	return f
}

// minResultEvent is a result event of the worker's shape (CloudEvents
// attributes and the same data keys), built without messages/.
type minResultEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Subject         string    `json:"subject"`
	Data            minResult `json:"data"`
}

type minResult struct {
	CommandID             string          `json:"commandId"`
	Connection            string          `json:"connection"`
	Provider              string          `json:"provider"`
	Resource              string          `json:"resource"`
	Status                string          `json:"status"`
	AppliedFields         []string        `json:"appliedFields"`
	SkippedFields         []string        `json:"skippedFields"`
	Attempts              int             `json:"attempts"`
	Deliveries            int             `json:"deliveries"`
	CommandStreamSequence uint64          `json:"commandStreamSequence"`
	StartedAt             time.Time       `json:"startedAt"`
	FinishedAt            time.Time       `json:"finishedAt"`
	Error                 *minResultError `json:"error"`
}

type minResultError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	Retryable  bool   `json:"retryable"`
}

// minJob is one command on its way through the pipeline.
type minJob struct {
	msg     jetstream.Msg
	cmd     minCommand
	seq     uint64
	started time.Time
	status  string
	httpErr int // the failing HTTP status, or -1 for a transport error
	fut     jetstream.PubAckFuture
}

type minimal struct {
	cfg   minimalConfig
	js    jetstream.JetStream
	rc    *redis.Client
	hc    *http.Client
	call  func(ctx context.Context, j *minJob) (int, error)
	slots chan struct{}
	work  chan *minJob
	done  chan *minJob
	acks  chan *minJob
}

// runMinimalChild is syncload _minimal -config FILE: it prints "ready
// consuming" once it consumes and runs until SIGTERM.
func runMinimalChild(args []string) error {
	fs := flag.NewFlagSet("_minimal", flag.ContinueOnError)
	path := fs.String("config", "", "JSON minimalConfig")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	var cfg minimalConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	nc, err := nats.Connect(cfg.NATSURL, nats.Name("syncload-minimal"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return err
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	// The worker's provider transport: http.DefaultTransport with 64 idle
	// connections per host (worker/providerhttp).
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	m := &minimal{cfg: cfg, js: js, rc: rc,
		hc: &http.Client{Transport: t, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if m.call, err = m.providerCall(); err != nil {
		return err
	}
	cons, err := js.Consumer(ctx, cfg.Stream, cfg.Consumer)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", cfg.Consumer, err)
	}
	fmt.Println("ready consuming")
	return m.run(ctx, cons)
}

func (m *minimal) run(ctx context.Context, cons jetstream.Consumer) error {
	batch := max(1, m.cfg.FetchBatch)
	held := m.cfg.MaxInFlight + min(m.cfg.MaxInFlight, batch)
	m.slots = make(chan struct{}, held)
	for range held {
		m.slots <- struct{}{}
	}
	m.work = make(chan *minJob, held)
	m.done = make(chan *minJob, held)
	m.acks = make(chan *minJob, held)
	var workers, stages sync.WaitGroup
	for range m.cfg.MaxInFlight {
		workers.Go(func() {
			for j := range m.work {
				m.apply(j)
				m.done <- j
			}
		})
	}
	stages.Go(m.settle)
	stages.Go(m.acker)
	defer func() {
		close(m.work)
		workers.Wait()
		close(m.done)
		stages.Wait()
	}()
	// A pull waits for at least half a batch of free slots (while the
	// other held messages keep the workers busy), then takes as many more
	// as are free, up to a batch: pulls of one message each, as slots
	// free one by one, would cost a pull request per command.
	want := max(1, min(batch, held)/2)
	for ctx.Err() == nil {
		n := 0
		for n < want {
			select {
			case <-m.slots:
				n++
			case <-ctx.Done():
				return nil
			}
		}
	more:
		for n < batch {
			select {
			case <-m.slots:
				n++
			default:
				break more
			}
		}
		msgs, err := cons.Fetch(n, jetstream.FetchMaxWait(time.Second))
		var got []jetstream.Msg
		if err == nil {
			for msg := range msgs.Messages() {
				got = append(got, msg)
			}
			err = msgs.Error()
		}
		for range n - len(got) {
			m.slots <- struct{}{}
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
			fmt.Fprintln(os.Stderr, "minimal: fetch:", err)
			time.Sleep(100 * time.Millisecond)
		}
		if len(got) > 0 {
			m.claim(ctx, got)
		}
	}
	return nil
}

// claim decodes a fetched batch, claims its commands in one pipelined
// round trip and hands the claimed ones to the workers.
func (m *minimal) claim(ctx context.Context, msgs []jetstream.Msg) {
	jobs := make([]*minJob, 0, len(msgs))
	for _, msg := range msgs {
		j := &minJob{msg: msg, started: time.Now()}
		if json.Unmarshal(msg.Data(), &j.cmd) != nil || j.cmd.ID == "" {
			_ = msg.Term()
			m.slots <- struct{}{}
			continue
		}
		if md, err := msg.Metadata(); err == nil {
			j.seq = md.Sequence.Stream
		}
		jobs = append(jobs, j)
	}
	pipe := m.rc.Pipeline()
	claims := make([]*redis.BoolCmd, len(jobs))
	for i, j := range jobs {
		claims[i] = pipe.SetNX(ctx, m.key(j), "claimed", minimalClaimTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		fmt.Fprintln(os.Stderr, "minimal: claims:", err)
		for _, j := range jobs {
			_ = j.msg.Nak()
			m.slots <- struct{}{}
		}
		return
	}
	for i, j := range jobs {
		if !claims[i].Val() { // claimed or done before: a duplicate
			_ = j.msg.Ack()
			m.slots <- struct{}{}
			continue
		}
		m.work <- j
	}
}

func (m *minimal) key(j *minJob) string { return m.cfg.KeyPrefix + ":cmd:" + j.cmd.ID }

// apply makes the provider call(s) and sets the job's status.
func (m *minimal) apply(j *minJob) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, err := m.call(ctx, j)
	switch {
	case err != nil:
		j.status, j.httpErr = "failed", -1
	case status < 200 || status > 299:
		j.status, j.httpErr = "failed", status
	default:
		j.status = "applied"
	}
}

// settle records the dones that are ready together in one pipelined round
// trip, then publishes their results asynchronously and hands them to the
// acker.
func (m *minimal) settle() {
	defer close(m.acks)
	ctx := context.Background()
	for j := range m.done {
		ready := []*minJob{j}
	more:
		for len(ready) < cap(m.done) {
			select {
			case j, ok := <-m.done:
				if !ok {
					break more
				}
				ready = append(ready, j)
			default:
				break more
			}
		}
		pipe := m.rc.Pipeline()
		for _, j := range ready {
			pipe.Set(ctx, m.key(j), "done:"+j.status, minimalResultTTL)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "minimal: dones:", err)
		}
		for _, j := range ready {
			m.publish(j)
			m.acks <- j
		}
	}
}

// publish publishes j's result event asynchronously.
func (m *minimal) publish(j *minJob) {
	now := time.Now()
	r := minResult{CommandID: j.cmd.ID, Connection: j.cmd.Connection, Provider: m.cfg.Provider, Resource: j.cmd.Resource,
		Status: j.status, AppliedFields: j.cmd.Data.Changes.fields(), SkippedFields: []string{}, Attempts: 1, Deliveries: 1,
		CommandStreamSequence: j.seq, StartedAt: j.started, FinishedAt: now}
	if j.status != "applied" {
		r.AppliedFields = []string{}
		r.Error = &minResultError{Code: "provider_unavailable", Message: "HTTP " + strconv.Itoa(j.httpErr), HTTPStatus: max(j.httpErr, 0)}
	}
	body, _ := json.Marshal(minResultEvent{SpecVersion: "1.0", ID: "result-" + j.cmd.ID, Source: "/syncload/minimal",
		Type: "oauthsync.client.update.result.v1", Time: now, DataContentType: "application/json", Subject: j.cmd.Resource, Data: r})
	msg := nats.NewMsg(m.cfg.SubjectPrefix + ".results." + j.cmd.Connection + "." + j.cmd.Resource)
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	msg.Header.Set("Sync-Status", j.status)
	msg.Data = body
	fut, err := m.js.PublishMsgAsync(msg, jetstream.WithMsgID("result-"+j.cmd.ID))
	if err != nil {
		fmt.Fprintln(os.Stderr, "minimal: publish:", err)
	}
	j.fut = fut
}

// acker acks each command once its result's publish is acked (and naks it
// when the publish failed), then frees its slot.
func (m *minimal) acker() {
	for j := range m.acks {
		ok := false
		if j.fut != nil {
			select {
			case <-j.fut.Ok():
				ok = true
			case err := <-j.fut.Err():
				fmt.Fprintln(os.Stderr, "minimal: publish ack:", err)
			case <-time.After(10 * time.Second):
				fmt.Fprintln(os.Stderr, "minimal: no publish ack")
			}
		}
		if ok {
			_ = j.msg.Ack()
		} else {
			_ = j.msg.Nak()
		}
		m.slots <- struct{}{}
	}
}

// providerCall returns the provider's request(s) for a command: the
// requests its adapter sends (method, path, headers, body shape), two for
// the read-then-write providers.
func (m *minimal) providerCall() (func(ctx context.Context, j *minJob) (int, error), error) {
	base := m.cfg.BaseURL
	c := m.cfg.Creds
	switch m.cfg.Provider {
	case "reelevant": // adapters/reelevant: one PATCH with the fields present
		auth := "Bearer " + c["bearerToken"]
		return func(ctx context.Context, j *minJob) (int, error) {
			body := map[string]any{}
			if v := j.cmd.Data.Changes.ClientID; v != nil {
				body["clientId"] = *v
			}
			st, _, err := m.do(ctx, http.MethodPatch, base+"/v2/datasources/oauth/"+url.PathEscape(j.cmd.Resource),
				http.Header{"Authorization": {auth}}, body)
			return st, err
		}, nil
	case "rocketchat": // adapters/rocketchat: GET oauth-apps.get, then POST oauth-apps.update of the whole app
		h := http.Header{"X-User-Id": {c["userId"]}, "X-Auth-Token": {c["authToken"]}}
		return func(ctx context.Context, j *minJob) (int, error) {
			st, b, err := m.do(ctx, http.MethodGet, base+"/api/v1/oauth-apps.get?"+url.Values{"_id": {j.cmd.Resource}}.Encode(), h, nil)
			if err != nil || st != http.StatusOK {
				return st, err
			}
			var read struct {
				OAuthApp struct {
					Name        string `json:"name"`
					Active      bool   `json:"active"`
					RedirectURI string `json:"redirectUri"`
				} `json:"oauthApp"`
			}
			if err := json.Unmarshal(b, &read); err != nil {
				return 0, err
			}
			up := struct {
				AppID       string `json:"appId"`
				Name        string `json:"name"`
				Active      bool   `json:"active"`
				RedirectURI string `json:"redirectUri"`
			}{j.cmd.Resource, read.OAuthApp.Name, read.OAuthApp.Active, read.OAuthApp.RedirectURI}
			if v := j.cmd.Data.Changes.Name; v != nil {
				up.Name = *v
			}
			st, _, err = m.do(ctx, http.MethodPost, base+"/api/v1/oauth-apps.update", h, up)
			return st, err
		}, nil
	case "hybriddatapipeline": // adapters/hybriddatapipeline: GET the object, then PUT the whole object
		h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(c["username"]+":"+c["password"]))}}
		return func(ctx context.Context, j *minJob) (int, error) {
			path := base + "/api/mgmt/oauthapps/" + url.PathEscape(j.cmd.Resource)
			st, b, err := m.do(ctx, http.MethodGet, path, h, nil)
			if err != nil || st != http.StatusOK {
				return st, err
			}
			var o struct {
				Name         string  `json:"name"`
				DataStore    int64   `json:"dataStore"`
				TenantID     int64   `json:"tenantId"`
				Description  *string `json:"description,omitempty"`
				ClientID     string  `json:"clientId"`
				ClientSecret string  `json:"clientSecret"`
				AuthorizeURI string  `json:"authorizeURI"`
				TokenURI     string  `json:"tokenURI"`
				Scope        string  `json:"scope"`
			}
			if err := json.Unmarshal(b, &o); err != nil {
				return 0, err
			}
			if v := j.cmd.Data.Changes.Name; v != nil {
				o.Name = *v
			}
			st, _, err = m.do(ctx, http.MethodPut, path, h, o)
			return st, err
		}, nil
	case "jframework": // adapters/jframework: GET the authentication, then PUT the whole object
		h := http.Header{"Brand-URL": {c["brandURL"]}, "Auth-Key": {c["authKey"]}, "Content-Type": {"application/json"}}
		return func(ctx context.Context, j *minJob) (int, error) {
			path := base + "/api/v1/app-integrations/authentication/" + url.PathEscape(j.cmd.Resource)
			st, b, err := m.do(ctx, http.MethodGet, path, h, nil)
			if err != nil || st != http.StatusOK {
				return st, err
			}
			var read struct {
				Success bool `json:"success"`
				Data    struct {
					AppIntegration struct {
						ID string `json:"id"`
					} `json:"appIntegration"`
					Code          string  `json:"code"`
					Name          string  `json:"name"`
					ProjectID     string  `json:"projectId"`
					ClientID      string  `json:"clientId"`
					ClientSecret  string  `json:"clientSecret"`
					RedirectURI   string  `json:"redirectURI"`
					Scope         string  `json:"scope"`
					AuthEndpoint  *string `json:"authEndpoint"`
					TokenEndpoint *string `json:"tokenEndpoint"`
					IconURL       *string `json:"iconURL"`
					Tags          *string `json:"tags"`
					Description   *string `json:"description"`
					Status        *string `json:"status"`
					IsDefault     *bool   `json:"isDefault"`
				} `json:"data"`
			}
			if err := json.Unmarshal(b, &read); err != nil {
				return 0, err
			}
			d := read.Data
			up := struct {
				AppIntegrationID string  `json:"appIntegrationId"`
				Code             string  `json:"code"`
				Name             string  `json:"name"`
				ProjectID        string  `json:"projectId"`
				ClientID         string  `json:"clientId"`
				ClientSecret     string  `json:"clientSecret"`
				RedirectURI      string  `json:"redirectURI"`
				Scope            string  `json:"scope"`
				AuthEndpoint     *string `json:"authEndpoint"`
				TokenEndpoint    *string `json:"tokenEndpoint"`
				IconURL          *string `json:"iconURL"`
				Tags             *string `json:"tags"`
				Description      *string `json:"description"`
				Status           *string `json:"status,omitempty"`
				IsDefault        *bool   `json:"isDefault,omitempty"`
			}{d.AppIntegration.ID, d.Code, d.Name, d.ProjectID, d.ClientID, d.ClientSecret, d.RedirectURI, d.Scope,
				d.AuthEndpoint, d.TokenEndpoint, d.IconURL, d.Tags, d.Description, d.Status, d.IsDefault}
			if v := j.cmd.Data.Changes.Name; v != nil {
				up.Name = *v
			}
			st, _, err = m.do(ctx, http.MethodPut, path, h, up)
			return st, err
		}, nil
	}
	return nil, fmt.Errorf("minimal pipeline: unknown provider %q", m.cfg.Provider)
}

// do sends one request as adapters/httpx does: the given headers, Accept
// and User-Agent, a JSON body with Content-Type when body is not nil; it
// reads the whole answer.
func (m *minimal) do(ctx context.Context, method, u string, h http.Header, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", minimalUserAgent)
	resp, err := m.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}
