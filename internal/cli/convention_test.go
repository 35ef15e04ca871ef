package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
)

const testVersion = "v9.9.9-convention"

// binaries builds syncctl and syncworker with the version set by -ldflags,
// as a release would.
func binaries(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	// One build of both: their shared packages are compiled once.
	args := append([]string{"build"}, testenv.GoBuildFlags()...)
	args = append(args, "-ldflags", "-X github.com/oauthsync/oauthsync/internal/cli.version="+testVersion,
		"-o", dir+string(filepath.Separator), "github.com/oauthsync/oauthsync/cmd/syncctl", "github.com/oauthsync/oauthsync/cmd/syncworker")
	cmd := exec.Command("go", args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out := map[string]string{}
	for _, name := range []string{"syncctl", "syncworker"} {
		out[name] = filepath.Join(dir, name)
	}
	return out
}

type ran struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, bin string, args ...string) ran {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cmd.Environ(), "NATS_URL=nats://127.0.0.1:1", "XDG_CONFIG_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return ran{code, stdout.String(), stderr.String()}
}

// commands lists every command path of a binary, asking cobra's own
// completion (so a command added later is covered without editing this
// test).
func commands(t *testing.T, bin string, path []string) [][]string {
	t.Helper()
	r := runBin(t, bin, append(append([]string{"__complete"}, path...), "")...)
	out := [][]string{path}
	for _, line := range strings.Split(r.stdout, "\n") {
		name, _, _ := strings.Cut(line, "\t")
		if name == "" || strings.HasPrefix(name, ":") || strings.HasPrefix(name, "-") || name == "help" || name == "completion" {
			continue
		}
		out = append(out, commands(t, bin, append(append([]string(nil), path...), name))...)
	}
	return out
}

// jsonError parses the convention's error object.
func jsonError(s string) (code string, exit int, ok bool) {
	var e struct {
		Error *struct {
			Code     string `json:"code"`
			ExitCode int    `json:"exitCode"`
			Message  string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(s)), &e) != nil || e.Error == nil || e.Error.Message == "" {
		return "", 0, false
	}
	return e.Error.Code, e.Error.ExitCode, true
}

// jsonLines parses stdout as JSON Lines: every line one compact object.
func jsonLines(t *testing.T, what, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || strings.HasPrefix(line, " ") {
			t.Errorf("%s: line %q is not one compact JSON object (%v)", what, line, err)
			continue
		}
		out = append(out, m)
	}
	return out
}

// TestEveryCommandFollowsTheConvention runs every command of syncctl and
// syncworker (listed by their own completion) and checks internal/cli's
// convention: usage errors (unknown flag, stray arguments, unknown
// subcommand) exit 2, with a JSON error under -o json (syncworker: its log
// format); --help is the command's own; --version answers with the
// -ldflags version; then, against a NATS server, that output under -o json
// is JSON Lines for record streams and one object otherwise, and the
// documented exit codes: 4 for a timed-out --wait, 3 for a dead letter that
// cannot be replayed, 1 when status finds no streams; and that no reader
// leaves a consumer behind.
func TestEveryCommandFollowsTheConvention(t *testing.T) {
	bins := binaries(t)
	for _, name := range []string{"syncctl", "syncworker"} {
		bin := bins[name]
		jsonFlag := []string{"-o", "json"}
		textFlag := []string{"-o", "table"}
		if name == "syncworker" {
			jsonFlag, textFlag = []string{"--log-format", "json"}, []string{"--log-format", "text"}
		}
		var mu sync.Mutex
		helps := map[string]string{}
		paths := commands(t, bin, nil)
		// The commands' subtests run in parallel (each runs the binary
		// four times); the group returns when all are done.
		t.Run(name, func(t *testing.T) {
			for _, path := range paths {
				label := strings.TrimSpace(name + " " + strings.Join(path, " "))
				t.Run(label, func(t *testing.T) {
					t.Parallel()
					if r := runBin(t, bin, append(append(append([]string(nil), path...), "--no-such-flag"), textFlag...)...); r.code != 2 ||
						!strings.HasPrefix(r.stderr, name+": unknown flag: --no-such-flag") {
						t.Errorf("unknown flag: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, name+": unknown flag")
					}
					r := runBin(t, bin, append(append(append([]string(nil), path...), "--no-such-flag"), jsonFlag...)...)
					if code, exit, ok := jsonError(r.stderr); r.code != 2 || !ok || code != "usage" || exit != 2 {
						t.Errorf("unknown flag with %v: exit %d, stderr %q; want 2 and a JSON usage error", jsonFlag, r.code, r.stderr)
					}
					// Five stray arguments: no command takes them.
					r = runBin(t, bin, append(append(append([]string(nil), path...), "x1", "x2", "x3", "x4", "x5"), textFlag...)...)
					if r.code != 2 || !strings.HasPrefix(r.stderr, name+": ") {
						t.Errorf("stray arguments: exit %d, stderr %q; want 2", r.code, r.stderr)
					}
					r = runBin(t, bin, append(append([]string(nil), path...), "--help")...)
					if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, strings.TrimSpace(name+" "+strings.Join(path, " "))) {
						t.Errorf("--help: exit %d\n%s", r.code, r.stdout)
					}
					mu.Lock()
					helps[strings.Join(path, " ")] = r.stdout
					mu.Unlock()
				})
			}
		})
		for _, path := range paths {
			if len(path) == 0 {
				continue
			}
			help := helps[strings.Join(path, " ")]
			if parent := helps[strings.Join(path[:len(path)-1], " ")]; parent != "" && (parent == help || strings.Contains(help, firstLine(parent))) {
				t.Errorf("%s %s --help repeats its parent's help:\n%s", name, strings.Join(path, " "), help)
			}
		}
		t.Run(name+" --version", func(t *testing.T) {
			r := runBin(t, bin, "--version")
			if r.code != 0 || !strings.HasPrefix(r.stdout, name+" "+testVersion) {
				t.Errorf("--version: exit %d, %q; want %q", r.code, r.stdout, name+" "+testVersion)
			}
		})
	}
	// A mistyped command is a usage error, with a suggestion.
	if r := runBin(t, bins["syncctl"], "statsu"); r.code != 2 || !strings.Contains(r.stderr, "did you mean status") {
		t.Errorf("syncctl statsu: exit %d, %q", r.code, r.stderr)
	}

	t.Run("output", func(t *testing.T) {
		js := testenv.Streams(t)
		url := js.Conn().ConnectedUrl()
		ctl := func(args ...string) ran {
			return runBin(t, bins["syncctl"], append([]string{"--server", url}, args...)...)
		}
		ctx := context.Background()
		subjects := messages.Subjects{}
		for i := range 3 {
			r := messages.Result{CommandID: fmt.Sprintf("conv-%d", i), Connection: "rc", Provider: "rocketchat", Resource: "r1",
				Status: messages.StatusSuperseded, SkippedFields: []string{"name"}, SkippedOrderKeys: map[string]int64{"name": 1732269600000}}
			body, err := messages.EncodeResultEvent(messages.NewResultEvent("/syncworker/test", r))
			if err != nil {
				t.Fatal(err)
			}
			msg := nats.NewMsg(subjects.Result("rc", "r1"))
			msg.Header.Set("Sync-Status", string(r.Status))
			msg.Data = body
			if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(messages.ResultEventID(r.CommandID))); err != nil {
				t.Fatal(err)
			}
		}
		// Two dead letters: a command, and a body that is none (it cannot
		// be replayed).
		var garbage uint64
		for i, body := range []string{`{"specversion":"1.0","id":"conv-dl","source":"/t","type":"oauthsync.client.update.v1","connection":"rc","resource":"r1","data":{"changes":{"name":"x"}}}`, `not a command`} {
			msg := nats.NewMsg(subjects.DeadLetter("rc", "r1"))
			msg.Header.Set("Sync-Error-Code", "provider_unavailable")
			msg.Data = []byte(body)
			ack, err := js.PublishMsg(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				garbage = ack.Sequence
			}
		}

		r := ctl("results", "-o", "json")
		if recs := jsonLines(t, "results", r.stdout); r.code != 0 || len(recs) != 3 {
			t.Errorf("results -o json: exit %d, %d records\n%s%s", r.code, len(recs), r.stdout, r.stderr)
		}
		r = ctl("results")
		if r.code != 0 || !strings.Contains(r.stdout, "name (key 1732269600000 won)") {
			t.Errorf("results table does not show the skipped field and its winning key:\n%s", r.stdout)
		}
		r = ctl("dlq", "list", "-o", "json")
		if recs := jsonLines(t, "dlq list", r.stdout); r.code != 0 || len(recs) != 2 {
			t.Errorf("dlq list -o json: exit %d, %d records\n%s%s", r.code, len(recs), r.stdout, r.stderr)
		}
		r = ctl("dlq", "replay", fmt.Sprint(garbage), "-o", "json")
		if code, _, ok := jsonError(r.stderr); r.code != 3 || !ok || code != "not_replayable" || len(jsonLines(t, "dlq replay", r.stdout)) != 1 {
			t.Errorf("replay of an unreplayable letter: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = ctl("status", "-o", "json")
		if recs := jsonLines(t, "status", r.stdout); r.code != 0 || len(recs) != 1 {
			t.Errorf("status -o json: exit %d, %d objects\n%s%s", r.code, len(recs), r.stdout, r.stderr)
		}
		r = ctl("publish", "--connection", "rc", "--resource", "r1", "--set", "name=a", "--wait", "--timeout", "2ms", "-o", "json")
		if code, _, ok := jsonError(r.stderr); r.code != 4 || !ok || code != "timeout" || len(jsonLines(t, "publish", r.stdout)) != 1 {
			t.Errorf("publish --wait --timeout 2ms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// Readers delete their consumers on the way out.
		st, err := js.Stream(ctx, "SYNC_RESULTS")
		if err != nil {
			t.Fatal(err)
		}
		if n := st.CachedInfo().State.Consumers; n != 0 {
			t.Errorf("%d consumers left on SYNC_RESULTS", n)
		}
		dl, err := js.Stream(ctx, "SYNC_DEADLETTER")
		if err != nil {
			t.Fatal(err)
		}
		if n := dl.CachedInfo().State.Consumers; n != 0 {
			t.Errorf("%d consumers left on SYNC_DEADLETTER", n)
		}

		// No streams: status says so and exits 1.
		bare := testenv.EmbeddedNATS(t)
		r = runBin(t, bins["syncctl"], "--server", bare, "status", "-o", "json")
		if code, exit, ok := jsonError(r.stderr); r.code != 1 || !ok || code != "streams_missing" || exit != 1 || len(jsonLines(t, "status", r.stdout)) != 1 {
			t.Errorf("status without streams: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
