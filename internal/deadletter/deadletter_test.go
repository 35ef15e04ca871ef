package deadletter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/deadletter"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// env is a fresh embedded NATS server with the three streams, and a Store
// of its dead letters.
type env struct {
	js    jetstream.JetStream
	store deadletter.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js := testenv.Streams(t)
	return &env{js: js, store: deadletter.Store{JetStream: js}}
}

// letter is a dead letter as the worker writes it.
type letter struct {
	conn, res string
	// commandSubject is Sync-Subject; default the command subject of
	// conn/res.
	commandSubject string
	body           []byte
	code           messages.ErrorCode
	reason         string
	attempts       int
	deliveries     int
	commandSeq     uint64
	// header holds more headers (the command's own).
	header map[string]string
}

// commandBody is a command's JSON, written by hand (spacing and key order
// of its own) so that a replay is seen to keep it byte for byte.
func commandBody(id, conn, res, batch string) []byte {
	b := ""
	if batch != "" {
		b = fmt.Sprintf(`, "batch":%q`, batch)
	}
	return fmt.Appendf(nil, `{"specversion":"1.0", "id":%q,"source":"/billing","type":"oauthsync.client.update.v1","connection":%q,"resource":%q%s,
  "data":{"changes":{"redirectUri":"https://app.example.com/cb?a=1&b=2","clientSecret":"dl-secret-%s"}}}`, id, conn, res, b, id)
}

// deadLetter publishes l on the dead-letter stream and returns its sequence.
func (e *env) deadLetter(t *testing.T, l letter) uint64 {
	t.Helper()
	msg := nats.NewMsg(messages.Subjects{}.DeadLetter(l.conn, l.res))
	msg.Header.Set("Content-Type", messages.ContentType)
	msg.Header.Set("traceparent", traceparent)
	for k, v := range l.header {
		msg.Header[k] = []string{v}
	}
	if l.commandSubject == "" {
		l.commandSubject = messages.Subjects{}.Command(l.conn, l.res)
	}
	msg.Header.Set(deadletter.HeaderErrorCode, string(l.code))
	msg.Header.Set(deadletter.HeaderError, l.reason)
	msg.Header.Set(deadletter.HeaderAttempts, strconv.Itoa(l.attempts))
	msg.Header.Set(deadletter.HeaderDeliveries, strconv.Itoa(l.deliveries))
	msg.Header.Set(deadletter.HeaderStreamSequence, strconv.FormatUint(l.commandSeq, 10))
	msg.Header.Set(deadletter.HeaderSubject, l.commandSubject)
	// The worker's publish carries its own Nats-* headers; the stream keeps them.
	msg.Header.Set("Nats-Expected-Stream", deadletter.DefaultStream)
	msg.Data = l.body
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID("deadletter-"+testenv.Unique()))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func (e *env) list(t *testing.T, f deadletter.Filter) []deadletter.Letter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ls, err := e.store.List(ctx, f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return ls
}

func seqs(ls []deadletter.Letter) []uint64 {
	var out []uint64
	for _, l := range ls {
		out = append(out, l.Seq)
	}
	return out
}

// fixture stores five dead letters and returns them by name.
func (e *env) fixture(t *testing.T) map[string]uint64 {
	t.Helper()
	return map[string]uint64{
		"rc-r1-b1": e.deadLetter(t, letter{conn: "rc", res: "r1", body: commandBody("c1", "rc", "r1", "b1"),
			code: messages.CodeProviderUnavailable, reason: "provider answered 503", attempts: 4, deliveries: 5, commandSeq: 11}),
		"rc-r2-b1": e.deadLetter(t, letter{conn: "rc", res: "r2", body: commandBody("c2", "rc", "r2", "b1"),
			code: messages.CodeRateLimited, reason: "429", attempts: 3, deliveries: 5, commandSeq: 12}),
		"hdp-r1-b2": e.deadLetter(t, letter{conn: "hdp", res: "r1", body: commandBody("c3", "hdp", "r1", "b2"),
			code: messages.CodeProviderUnavailable, reason: "503", attempts: 2, deliveries: 5, commandSeq: 13}),
		"rc-r1": e.deadLetter(t, letter{conn: "rc", res: "r1", body: commandBody("c4", "rc", "r1", ""),
			code: messages.CodeTimeout, reason: "timeout", attempts: 1, deliveries: 5, commandSeq: 14}),
		"rc-r3-garbage": e.deadLetter(t, letter{conn: "rc", res: "r3", body: []byte("not json at all"),
			code: messages.CodeInvalidCommand, reason: "not a JSON object", deliveries: 1, commandSeq: 15}),
	}
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	if ls := e.list(t, deadletter.Filter{}); len(ls) != 0 {
		t.Fatalf("empty stream: %v", seqs(ls))
	}
	s := e.fixture(t)
	for _, tc := range []struct {
		name string
		f    deadletter.Filter
		want []string
	}{
		{"all", deadletter.Filter{}, []string{"rc-r1-b1", "rc-r2-b1", "hdp-r1-b2", "rc-r1", "rc-r3-garbage"}},
		{"connection", deadletter.Filter{Connection: "rc"}, []string{"rc-r1-b1", "rc-r2-b1", "rc-r1", "rc-r3-garbage"}},
		{"resource", deadletter.Filter{Resource: "r1"}, []string{"rc-r1-b1", "hdp-r1-b2", "rc-r1"}},
		{"connection and resource", deadletter.Filter{Connection: "rc", Resource: "r1"}, []string{"rc-r1-b1", "rc-r1"}},
		{"error code", deadletter.Filter{ErrorCode: string(messages.CodeProviderUnavailable)}, []string{"rc-r1-b1", "hdp-r1-b2"}},
		{"batch", deadletter.Filter{Batch: "b1"}, []string{"rc-r1-b1", "rc-r2-b1"}},
		{"connection and batch", deadletter.Filter{Connection: "hdp", Batch: "b1"}, nil},
		{"error code and connection", deadletter.Filter{Connection: "rc", ErrorCode: string(messages.CodeTimeout)}, []string{"rc-r1"}},
		{"unknown connection", deadletter.Filter{Connection: "jf"}, nil},
		{"seqs, in the order given", deadletter.Filter{Seqs: []uint64{s["rc-r1"], s["rc-r1-b1"]}}, []string{"rc-r1", "rc-r1-b1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []uint64
			for _, n := range tc.want {
				want = append(want, s[n])
			}
			if got := seqs(e.list(t, tc.f)); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v (%v)", got, want, tc.want)
			}
		})
	}
	t.Run("seqs with a missing one", func(t *testing.T) {
		_, err := e.store.List(context.Background(), deadletter.Filter{Seqs: []uint64{s["rc-r1"], 999}})
		if !errors.Is(err, deadletter.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestLetterFields(t *testing.T) {
	e := newEnv(t)
	s := e.fixture(t)
	ls := e.list(t, deadletter.Filter{Seqs: []uint64{s["rc-r1-b1"]}})
	got, err := e.store.Get(context.Background(), s["rc-r1-b1"])
	if err != nil {
		t.Fatal(err)
	}
	listed := e.list(t, deadletter.Filter{Batch: "b1", Resource: "r1"})
	for name, l := range map[string]deadletter.Letter{"List by seq": ls[0], "Get": got, "List by filter": listed[0]} {
		if l.Seq != s["rc-r1-b1"] || l.Subject != "sync.deadletter.rc.r1" || l.Connection != "rc" || l.Resource != "r1" ||
			l.CommandID != "c1" || l.Batch != "b1" || l.ErrorCode != string(messages.CodeProviderUnavailable) ||
			l.Error != "provider answered 503" || l.Attempts != 4 || l.Deliveries != 5 ||
			l.CommandSubject != "sync.commands.rc.r1" || l.CommandStreamSeq != 11 || l.Time.IsZero() {
			t.Errorf("%s: %+v", name, l)
		}
		if !bytes.Equal(l.Body, commandBody("c1", "rc", "r1", "b1")) || l.Header.Get("traceparent") != traceparent {
			t.Errorf("%s: body %q, traceparent %q", name, l.Body, l.Header.Get("traceparent"))
		}
	}
	// A letter whose body is not JSON names no command and no batch.
	g, err := e.store.Get(context.Background(), s["rc-r3-garbage"])
	if err != nil {
		t.Fatal(err)
	}
	if g.CommandID != "" || g.Batch != "" || g.Connection != "rc" || g.Resource != "r3" {
		t.Errorf("unreadable letter: %+v", g)
	}
	// The JSON form never holds the body or headers (they may hold a secret).
	j, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(j), "dl-secret") || strings.Contains(string(j), traceparent) {
		t.Errorf("letter JSON shows the body or headers: %s", j)
	}
}

func TestGetMissingIsErrNotFound(t *testing.T) {
	e := newEnv(t)
	s := e.fixture(t)
	for _, seq := range []uint64{999, s["rc-r1"] + 100} {
		if _, err := e.store.Get(context.Background(), seq); !errors.Is(err, deadletter.ErrNotFound) {
			t.Errorf("Get(%d) = %v, want ErrNotFound", seq, err)
		}
	}
	if _, err := (deadletter.Store{JetStream: e.js, Stream: "NO_SUCH_STREAM"}).Get(context.Background(), 1); err == nil || errors.Is(err, deadletter.ErrNotFound) {
		t.Errorf("Get on a missing stream = %v, want another error", err)
	}
}

func TestReplayMessage(t *testing.T) {
	e := newEnv(t)
	body := commandBody("c1", "rc", "r1", "b1")
	seq := e.deadLetter(t, letter{conn: "rc", res: "r1", body: body, code: messages.CodeProviderUnavailable,
		reason: "503", attempts: 4, deliveries: 5, commandSeq: 11,
		header: map[string]string{"tracestate": "vendor=1", "X-Origin": "billing", "sync-replay": "3"}})
	l, err := e.store.Get(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := e.store.ReplayMessage(l)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "sync.commands.rc.r1" {
		t.Errorf("subject %q", msg.Subject)
	}
	if !bytes.Equal(msg.Data, body) {
		t.Errorf("body changed:\n%s\nwant\n%s", msg.Data, body)
	}
	for k, want := range map[string]string{
		"traceparent": traceparent, "tracestate": "vendor=1", "X-Origin": "billing",
		"Content-Type": messages.ContentType, deadletter.HeaderStreamSequence: "11",
	} {
		if got := msg.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	for k := range msg.Header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			t.Errorf("header %s kept", k)
		}
		for _, drop := range []string{deadletter.HeaderError, deadletter.HeaderErrorCode, deadletter.HeaderAttempts, deadletter.HeaderDeliveries, deadletter.HeaderSubject} {
			if strings.EqualFold(k, drop) {
				t.Errorf("header %s kept", k)
			}
		}
	}
	var replay []string
	for k, v := range msg.Header {
		if strings.EqualFold(k, deadletter.HeaderReplay) {
			replay = append(replay, v...)
		}
	}
	if want := []string{strconv.FormatUint(seq, 10)}; !slices.Equal(replay, want) {
		t.Errorf("Sync-Replay (any case) = %q, want %q", replay, want)
	}
	// ReplayMessage copies the headers: the letter is left as it was.
	if l.Header.Get(deadletter.HeaderErrorCode) == "" || l.Header.Get("sync-replay") != "3" {
		t.Errorf("the letter's headers changed: %v", l.Header)
	}

	t.Run("bulk lane", func(t *testing.T) {
		// A migration's command is replayed in the bulk lane it came
		// from; a resource named "bulk" is an interactive command's.
		for _, res := range []struct{ id, subject string }{
			{"r1", "sync.commands.rc.r1.bulk"},
			{"bulk", "sync.commands.rc.bulk"},
		} {
			seq := e.deadLetter(t, letter{conn: "rc", res: res.id, commandSubject: res.subject,
				body: commandBody("c-"+res.id, "rc", res.id, ""), code: messages.CodeProviderUnavailable})
			l, err := e.store.Get(context.Background(), seq)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := e.store.ReplayMessage(l)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Subject != res.subject {
				t.Errorf("dead letter of %s replayed on %q", res.subject, msg.Subject)
			}
		}
	})

	t.Run("other subject prefix", func(t *testing.T) {
		st := deadletter.Store{JetStream: e.js, Subjects: messages.Subjects{Prefix: "acme.sync"}}
		l := l
		l.CommandSubject = "acme.sync.commands.rc.r1"
		msg, err := st.ReplayMessage(l)
		if err != nil || msg.Subject != "acme.sync.commands.rc.r1" {
			t.Errorf("subject %v, err %v", msg, err)
		}
	})
}

func TestReplayMessageRefusesUnreadableLetters(t *testing.T) {
	e := newEnv(t)
	seqOf := map[string]uint64{
		"body not JSON": e.deadLetter(t, letter{conn: "rc", res: "r1", body: []byte("garbage"), code: messages.CodeInvalidCommand}),
		"no id":         e.deadLetter(t, letter{conn: "rc", res: "r1", body: []byte(`{"connection":"rc","resource":"r1"}`), code: messages.CodeInvalidCommand}),
		"invalid id":    e.deadLetter(t, letter{conn: "rc", res: "r1", body: commandBody("bad id!", "rc", "r1", ""), code: messages.CodeInvalidCommand}),
		// The worker files a command whose subject it cannot read under
		// _unroutable.<its sequence>, keeping the subject in Sync-Subject.
		"unroutable": e.deadLetter(t, letter{conn: "_unroutable", res: "42", commandSubject: "sync.commands.rc",
			body: commandBody("c9", "rc", "r1", ""), code: messages.CodeInvalidCommand}),
	}
	for name, seq := range seqOf {
		t.Run(name, func(t *testing.T) {
			l, err := e.store.Get(context.Background(), seq)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.ReplayMessage(l); !errors.Is(err, deadletter.ErrNotReplayable) {
				t.Errorf("ReplayMessage = %v, want ErrNotReplayable", err)
			}
			if _, err := e.store.Replay(context.Background(), l); !errors.Is(err, deadletter.ErrNotReplayable) {
				t.Errorf("Replay = %v, want ErrNotReplayable", err)
			}
		})
	}
	if n := e.commands(t); len(n) != 0 {
		t.Errorf("%d commands published", len(n))
	}
}

// commands returns every message of the commands stream.
func (e *env) commands(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	st, err := e.js.Stream(ctx, "SYNC_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestReplayTwiceStoresOneCopy(t *testing.T) {
	e := newEnv(t)
	s := e.fixture(t)
	l, err := e.store.Get(context.Background(), s["rc-r1-b1"])
	if err != nil {
		t.Fatal(err)
	}
	dup, err := e.store.Replay(context.Background(), l)
	if err != nil || dup {
		t.Fatalf("first replay: duplicate %v, err %v", dup, err)
	}
	dup, err = e.store.Replay(context.Background(), l)
	if err != nil || !dup {
		t.Fatalf("second replay: duplicate %v, err %v; want a duplicate", dup, err)
	}
	cmds := e.commands(t)
	if len(cmds) != 1 {
		t.Fatalf("%d commands stored, want 1", len(cmds))
	}
	c := cmds[0]
	if c.Subject != "sync.commands.rc.r1" || !bytes.Equal(c.Data, l.Body) ||
		c.Header.Get(deadletter.HeaderReplay) != strconv.FormatUint(l.Seq, 10) ||
		c.Header.Get(jetstream.MsgIDHeader) != deadletter.ReplayMsgID("c1", l.Seq) ||
		c.Header.Get("traceparent") != traceparent || c.Header.Get(deadletter.HeaderError) != "" {
		t.Errorf("stored replay: subject %q header %v body %q", c.Subject, c.Header, c.Data)
	}
	// Another dead letter of the same command (a replay that failed again)
	// is a replay of its own.
	l2 := l
	l2.Seq = s["rc-r3-garbage"] + 1
	if dup, err := e.store.Replay(context.Background(), l2); err != nil || dup {
		t.Errorf("replay of another dead letter of c1: duplicate %v, err %v", dup, err)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	s := e.fixture(t)
	if err := e.store.Delete(context.Background(), s["rc-r2-b1"]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Get(context.Background(), s["rc-r2-b1"]); !errors.Is(err, deadletter.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	want := []uint64{s["rc-r1-b1"], s["rc-r1"], s["rc-r3-garbage"]}
	if got := seqs(e.list(t, deadletter.Filter{Connection: "rc"})); !slices.Equal(got, want) {
		t.Errorf("List after Delete = %v, want %v", got, want)
	}
	if err := e.store.Delete(context.Background(), s["rc-r2-b1"]); err == nil {
		t.Error("deleting a deleted letter succeeded")
	}
	// Deleting the last letter of a filter leaves an empty list, promptly.
	if err := e.store.Delete(context.Background(), s["hdp-r1-b2"]); err != nil {
		t.Fatal(err)
	}
	if got := e.list(t, deadletter.Filter{Connection: "hdp"}); len(got) != 0 {
		t.Errorf("List after deleting hdp's only letter = %v", seqs(got))
	}
}

func TestRedacted(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		// secrets must not appear; kept must; redactions is how many
		// [REDACTED] there are.
		secrets    []string
		kept       []string
		redactions int
	}{
		{
			name:       "changes.clientSecret",
			body:       `{"id":"c1","data":{"changes":{"clientSecret":"cs-VALUE-1","redirectUri":"https://a.example/cb?x=1&y=2"}}}`,
			secrets:    []string{"cs-VALUE-1"},
			kept:       []string{`"id": "c1"`, `"redirectUri": "https://a.example/cb?x=1&y=2"`},
			redactions: 1,
		},
		{
			name:       "providerFields.configuration.clientSecret",
			body:       `{"data":{"providerFields":{"mode":"client_credentials","configuration":{"clientSecret":"nested-VALUE","clientId":"abc"}}}}`,
			secrets:    []string{"nested-VALUE"},
			kept:       []string{`"mode": "client_credentials"`, `"clientId": "abc"`},
			redactions: 1,
		},
		{
			name:       "password, any case, any depth, any value type",
			body:       `{"password":"pw-VALUE-1","auth":{"Password":{"v":"pw-VALUE-2"},"userPassword":["pw-VALUE-3"],"user":"bob"}}`,
			secrets:    []string{"pw-VALUE-1", "pw-VALUE-2", "pw-VALUE-3"},
			kept:       []string{`"user": "bob"`},
			redactions: 3,
		},
		{
			name: "token-ish keys that hold no secret stay",
			body: `{"data":{"changes":{"tokenUrl":"https://idp.example/token"},"providerFields":{"accessTokenPath":"data.access_token",` +
				`"tokenExpiration":3600,"accessTokenHeader":"Authorization","accessTokenHeaderPrefix":"Bearer","tokenURI":"https://x/t",` +
				`"tokenEndpoint":"https://oauth2.example/token"},` +
				`"accessToken":"at-VALUE","bearerToken":"bt-VALUE","refresh_token":"rt-VALUE","clientSecretHash":"h-VALUE"}}`,
			secrets: []string{"at-VALUE", "bt-VALUE", "rt-VALUE", "h-VALUE"},
			kept: []string{`"tokenUrl": "https://idp.example/token"`, `"accessTokenPath": "data.access_token"`, `"tokenExpiration": 3600`,
				`"accessTokenHeader": "Authorization"`, `"accessTokenHeaderPrefix": "Bearer"`, `"tokenURI": "https://x/t"`,
				`"tokenEndpoint": "https://oauth2.example/token"`},
			redactions: 4,
		},
		{
			name:       "provider credentials",
			body:       `{"privateKey":"pk-VALUE","apiKey":"ak-VALUE","authKey":"auk-VALUE","credentials":{"u":"cr-VALUE"},"code":"keep-me"}`,
			secrets:    []string{"pk-VALUE", "ak-VALUE", "auk-VALUE", "cr-VALUE"},
			kept:       []string{`"code": "keep-me"`},
			redactions: 4,
		},
		{
			name: "snake and kebab case secret keys",
			body: `{"api_key":"sk-VALUE-1","passwd":"sk-VALUE-2","private_key":"sk-VALUE-3","Authorization":"Basic_sk-VALUE-4",` +
				`"access-token":"sk-VALUE-5","X-Api-Key":"sk-VALUE-6","client_secret":"sk-VALUE-7","note":"was sk-VALUE-1"}`,
			secrets:    []string{"sk-VALUE-1", "sk-VALUE-2", "sk-VALUE-3", "Basic_sk-VALUE-4", "sk-VALUE-5", "sk-VALUE-6", "sk-VALUE-7"},
			kept:       []string{`"note": "was [REDACTED]"`},
			redactions: 8,
		},
		{
			name:       "arrays",
			body:       `[{"clientSecret":"arr-VALUE-1"},{"items":[{"name":"x","secret":"arr-VALUE-2"}]},"plain"]`,
			secrets:    []string{"arr-VALUE-1", "arr-VALUE-2"},
			kept:       []string{`"name": "x"`, `"plain"`},
			redactions: 2,
		},
		{
			name:       "numbers are kept exactly",
			body:       `{"data":{"sequence":9007199254740993,"ratio":0.5}}`,
			kept:       []string{`"sequence": 9007199254740993`, `"ratio": 0.5`},
			redactions: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := deadletter.Redacted([]byte(tc.body))
			if !json.Valid(out) {
				t.Fatalf("not JSON: %s", out)
			}
			for _, s := range tc.secrets {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("secret %q shown:\n%s", s, out)
				}
			}
			for _, k := range tc.kept {
				if !bytes.Contains(out, []byte(k)) {
					t.Errorf("%s missing:\n%s", k, out)
				}
			}
			if n := bytes.Count(out, []byte(messages.Redacted)); n != tc.redactions {
				t.Errorf("%d redactions, want %d:\n%s", n, tc.redactions, out)
			}
		})
	}
	for name, body := range map[string]string{
		"not JSON":       `clientSecret=raw-VALUE`,
		"truncated JSON": `{"clientSecret":"raw-VALUE"`,
		"two values":     `{"id":"c1"} {"clientSecret":"raw-VALUE"}`,
	} {
		t.Run(name, func(t *testing.T) {
			out := deadletter.Redacted([]byte(body))
			if bytes.Contains(out, []byte("raw-VALUE")) || bytes.Contains(out, []byte("clientSecret")) {
				t.Errorf("shown: %s", out)
			}
			if want := fmt.Sprintf("(%d bytes that are not JSON", len(body)); !bytes.HasPrefix(out, []byte(want)) {
				t.Errorf("got %q, want it described as %q...", out, want)
			}
		})
	}
}
