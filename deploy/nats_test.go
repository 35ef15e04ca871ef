package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/oauthsync/oauthsync/messages"
)

const natsConfFile = "nats/nats-server.conf"

// natsConfEnv are the variables nats-server.conf reads from the environment.
var natsConfEnv = []string{"NATS_SERVER_NAME", "SYNCWORKER_NATS_PASSWORD", "PUBLISHER_NATS_PASSWORD", "SYS_NATS_PASSWORD", "ROUTE_PASSWORD"}

// loadNATSConf parses nats-server.conf with nats-server's own parser (the
// module the project already embeds), with test values for its variables.
func loadNATSConf(t *testing.T) *server.Options {
	t.Helper()
	for _, v := range natsConfEnv {
		t.Setenv(v, "test-"+strings.ToLower(v))
	}
	o, err := server.ProcessConfigFile(natsConfFile)
	if err != nil {
		t.Fatalf("%s: %v", natsConfFile, err)
	}
	return o
}

// natsUser returns a user of the configuration.
func natsUser(t *testing.T, o *server.Options, name string) *server.User {
	t.Helper()
	for _, u := range o.Users {
		if u.Username == name {
			return u
		}
	}
	t.Fatalf("%s: no user %s", natsConfFile, name)
	return nil
}

// natsWorkerAccount is the account of the worker's user, which KEDA's
// trigger must name.
func natsWorkerAccount(t *testing.T) string {
	t.Helper()
	o := loadNATSConf(t)
	u := natsUser(t, o, "syncworker")
	if u.Account == nil {
		return "$G"
	}
	return u.Account.Name
}

func TestNATSConf(t *testing.T) {
	o := loadNATSConf(t)
	if !o.JetStream {
		t.Fatal("JetStream is off")
	}
	if !o.SyncAlways && (o.SyncInterval == 0 || o.SyncInterval > 10*time.Second) {
		t.Errorf("sync_interval: always, or a short interval; have %s", o.SyncInterval)
	}
	if o.MaxPayload < 2*messages.DefaultMaxCommandBytes {
		t.Errorf("max_payload %d: keep room above the %d-byte command limit for dead letters' headers", o.MaxPayload, messages.DefaultMaxCommandBytes)
	}
	if o.HTTPPort != 8222 {
		t.Errorf("http_port %d: KEDA's trigger reads the monitoring endpoint on 8222", o.HTTPPort)
	}
	if o.Cluster.Name == "" || len(o.Routes) != 3 {
		t.Errorf("cluster %q with %d routes: three nodes for replicas 3", o.Cluster.Name, len(o.Routes))
	}
	if o.SystemAccount == "" {
		t.Error("no system account")
	}

	// The worker may publish results and dead letters and ack commands, and
	// cannot publish commands or touch other streams.
	w := natsUser(t, o, "syncworker")
	if w.Permissions == nil || w.Permissions.Publish == nil {
		t.Fatal("the worker's user has no publish permissions")
	}
	allow := w.Permissions.Publish.Allow
	for _, want := range []string{"sync.results.>", "sync.deadletter.>", "$JS.ACK.SYNC_COMMANDS.>", "$JS.API.CONSUMER.MSG.NEXT.SYNC_COMMANDS.>"} {
		if !slices.Contains(allow, want) {
			t.Errorf("the worker may not publish %s", want)
		}
	}
	for _, subj := range allow {
		if strings.HasPrefix(subj, "sync.commands") || subj == ">" || subj == "$JS.API.>" {
			t.Errorf("the worker may publish %s: more than it needs", subj)
		}
		for tok := range strings.SplitSeq(subj, ".") {
			if strings.Contains(tok, "*") && tok != "*" {
				t.Errorf("%s: a partial-token wildcard matches nothing in NATS", subj)
			}
		}
	}
	p := natsUser(t, o, "publisher")
	if p.Permissions == nil || !slices.Equal(p.Permissions.Publish.Allow, []string{"sync.commands.>"}) {
		t.Errorf("the publisher's user must publish sync.commands.> only")
	}
	if w.Account == nil || p.Account == nil || w.Account.Name != p.Account.Name {
		t.Error("the worker and publishers must share one account (the streams live in it)")
	}
}
