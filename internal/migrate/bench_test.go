package migrate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/migrate"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
)

// BenchmarkPublish publishes a 100,000-line migration (no worker, so no
// results: publishing only) to the machine's NATS, in file-stored streams
// like the worker's. It reports commands/s.
//
//	go test -run '^$' -bench BenchmarkPublish -benchtime 3x ./internal/migrate
func BenchmarkPublish(b *testing.B) {
	const n = 100_000
	js, subjects, commands, results := benchStreams(b)
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		st, err := js.Stream(context.Background(), commands)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Purge(context.Background()); err != nil {
			b.Fatal(err)
		}
		batch := fmt.Sprintf("bench-%d-%s", i, testenv.Unique())
		lines := benchLines(b, n, subjects, batch)
		b.StartTimer()
		sum, err := migrate.Run(context.Background(), migrate.Config{JetStream: js, Subjects: subjects, ResultsStream: results}, batch, lines)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Published != n {
			b.Fatalf("published %d of %d", sum.Published, n)
		}
		total += sum.PublishTime
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "commands/s")
}

func benchStreams(b *testing.B) (jetstream.JetStream, messages.Subjects, string, string) {
	nc := testenv.NATS(b)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		b.Fatal(err)
	}
	u := testenv.Unique()
	subjects := messages.Subjects{Prefix: "bench" + u}
	commands, results := "BENCH_COMMANDS_"+u, "BENCH_RESULTS_"+u
	ctx := context.Background()
	for name, subj := range map[string]string{commands: subjects.Commands(), results: subjects.Results()} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj},
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	}
	return js, subjects, commands, results
}

// benchLines are n valid lines of batch over 1,000 resources.
func benchLines(b *testing.B, n int, subjects messages.Subjects, batch string) []commandfile.Line {
	lines := make([]commandfile.Line, n)
	for i := range n {
		sf := commandfile.ShortForm{ID: fmt.Sprintf("%s:%d", batch, i+1), Connection: "rc", Resource: fmt.Sprintf("65a7d77142a7e124%08x", i%1000),
			Changes: []byte(fmt.Sprintf(`{"redirectUri":"https://new.example.com/cb/%d"}`, i))}
		cmd, err := commandfile.Options{Decode: messages.DecodeOptions{Subjects: subjects}}.Build(i+1, nil, sf)
		if err != nil {
			b.Fatal(err)
		}
		body, err := cmd.Encode()
		if err != nil {
			b.Fatal(err)
		}
		lines[i] = commandfile.Line{Number: i + 1, Command: cmd, Body: body}
	}
	return lines
}
