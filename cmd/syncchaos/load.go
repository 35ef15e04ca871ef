package main

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/messages"
)

// The resource classes, the last digit of a resource id: commands of a
// class-0 resource never carry data.sequence, of class 1 always, of class
// 2 sometimes (both order keys on one scale, docs/CONTRACT.md §3).
const (
	classUnsequenced = '0'
	classSequenced   = '1'
	classMixed       = '2'
)

var classNames = map[byte]string{classUnsequenced: "unsequenced", classSequenced: "sequenced", classMixed: "mixed"}

// payload is one command body the tool publishes (an original, or a
// reused id's other payload).
type payload struct {
	cmd        Command
	connection string
	changes    messages.Changes
	// sequenced: the body carries data.sequence, set when it is first
	// built (at its first publish).
	sequenced bool
	body      []byte
}

// newPayload builds command i for resource of provider p; variant is ""
// for an original, ".r" / ".r2" for a reused id's other payloads.
func newPayload(rng *rand.Rand, p *chaosProvider, runTag, marker string, i int, variant, resource string, sequenced bool) *payload {
	tag := fmt.Sprintf("%s-%d%s", runTag, i, variant)
	pl := &payload{sequenced: sequenced, connection: p.connection}
	pl.changes, pl.cmd.Fields = p.changes(rng, tag, marker+"-"+tag)
	pl.cmd.ID = fmt.Sprintf("chaos-%s-%d", runTag, i)
	pl.cmd.Resource = resource
	pl.cmd.Reuse = variant != ""
	return pl
}

// keepOneField makes pl set one of its fields, at random, and no client
// secret: such commands of one resource, waiting together, ride in one
// another's writes (the worker's merged writes).
func (pl *payload) keepOneField(rng *rand.Rand, p *chaosProvider) {
	var names []string
	for _, n := range pl.changes.Fields() {
		if n != messages.FieldClientSecret {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	keep := names[rng.IntN(len(names))]
	for _, n := range pl.changes.Fields() {
		if n != keep {
			pl.changes = pl.changes.Without(n)
			delete(pl.cmd.Fields, cmp.Or(p.fieldNames[n], n))
		}
	}
}

func ptr[T any](v T) *T { return &v }

// build encodes the body once; a sequenced payload's data.sequence is its
// first publish time minus up to jitter, so that sequenced commands of one
// resource reach the stream out of order.
func (p *payload) build(rng *rand.Rand, jitter time.Duration, mu *sync.Mutex) ([]byte, error) {
	if p.body != nil {
		return p.body, nil
	}
	data := messages.Data{Changes: p.changes}
	if p.sequenced {
		mu.Lock()
		j := rng.Int64N(int64(jitter/time.Millisecond) + 1)
		mu.Unlock()
		seq := time.Now().UnixMilli() - j
		data.Sequence = &seq
		p.cmd.Sequence = &seq
	}
	body, err := messages.NewCommand(p.cmd.ID, "/syncchaos", p.connection, p.cmd.Resource, data).Encode()
	if err != nil {
		return nil, err
	}
	p.body = body
	return body, nil
}

// publisher publishes payloads with a pool of synchronous publishers, each
// retrying until JetStream acknowledges (through NATS restarts): with
// Nats-Msg-Id set, a retry inside the duplicate window is dropped by
// JetStream, and one past it is one more late duplicate.
type publisher struct {
	js      jetstream.JetStream
	limiter *rate.Limiter
	jitter  time.Duration

	rngMu sync.Mutex
	rng   *rand.Rand

	mu        sync.Mutex
	published int
	retries   int
}

func (p *publisher) publishAll(ctx context.Context, payloads []*payload, onProgress func(done int)) error {
	ch := make(chan *payload)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 16 {
		wg.Go(func() {
			for pl := range ch {
				if err := p.publishOne(ctx, pl); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				p.mu.Lock()
				p.published++
				n := p.published
				p.mu.Unlock()
				if onProgress != nil {
					onProgress(n)
				}
			}
		})
	}
	var err error
feed:
	for _, pl := range payloads {
		if p.limiter != nil {
			if err = p.limiter.Wait(ctx); err != nil {
				break
			}
		}
		select {
		case ch <- pl:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func (p *publisher) publishOne(ctx context.Context, pl *payload) error {
	body, err := pl.build(p.rng, p.jitter, &p.rngMu)
	if err != nil {
		return err
	}
	for {
		msg := nats.NewMsg(strings.Join([]string{"sync", "commands", pl.connection, pl.cmd.Resource}, "."))
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Header.Set(jetstream.MsgIDHeader, pl.cmd.ID)
		msg.Data = body
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := p.js.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w", pl.cmd.ID, err)
		}
		p.mu.Lock()
		p.retries++
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
