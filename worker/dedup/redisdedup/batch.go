package redisdedup

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher runs the store's scripts in pipelines, as a group commit: the
// calls made while one pipeline is in flight go out together in the next,
// so that under load many commands' scripts share one round trip (one
// write, one read on each side) and when idle a call goes out at once,
// with nothing added to its latency. Redis runs a pipeline's scripts one
// after another, each atomic, exactly as it would run them sent one by
// one.
//
// Its one goroutine runs only while calls wait and ends when none do: it
// needs no Close.
type batcher struct {
	client redis.UniversalClient

	mu      sync.Mutex
	queue   []*scriptCall
	running bool
}

// scriptCall is one script run waiting for its pipeline.
type scriptCall struct {
	ctx    context.Context
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd    // the reply, set before done is closed
	done   chan struct{} // closed when cmd is set
}

// maxBatch bounds one pipeline, so that one round trip's reply stays small.
const maxBatch = 256

// run runs script like script.Run, in the next pipeline. When ctx ends
// first, it returns ctx's error; the script may still run (as a script
// sent one by one may run after its caller gave up on the reply).
func (b *batcher) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	c := &scriptCall{ctx: ctx, script: script, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.running {
		b.running = true
		go b.flush()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.cmd
	case <-ctx.Done():
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(ctx.Err())
		return cmd
	}
}

// flush sends the waiting calls, a pipeline at a time, until none wait.
func (b *batcher) flush() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil
		}
		b.mu.Unlock()
		b.exec(batch)
	}
}

// exec runs one batch's scripts in one pipeline (a second one loads the
// scripts Redis did not have cached, with EVAL) and answers each call.
// A call whose caller already gave up is not sent.
func (b *batcher) exec(batch []*scriptCall) {
	live := make([]*scriptCall, 0, len(batch))
	var deadline time.Time
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.cmd = redis.NewCmd(c.ctx)
			c.cmd.SetErr(err)
			close(c.done)
			continue
		}
		live = append(live, c)
		d, ok := c.ctx.Deadline()
		if !ok {
			d = time.Now().Add(time.Minute)
		}
		deadline = later(deadline, d)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	pipe := b.client.Pipeline()
	for _, c := range live {
		c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	var missing []*scriptCall
	for _, c := range live {
		if err := c.cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		pipe := b.client.Pipeline()
		for _, c := range missing {
			c.cmd = c.script.Eval(ctx, pipe, c.keys, c.args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	for _, c := range live {
		close(c.done)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
