package worker

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
)

// A connection's commands come in two lanes (docs/CONTRACT.md §2): the
// interactive lane, commands upstream services publish one at a time on
// <prefix>.commands.<connection>.<resource>, and the bulk lane, a
// migration's commands, published with ".bulk" after the resource. Each
// lane has its own durable consumer, so that a backlog of bulk commands
// never stands in front of an interactive one in a stream; the
// connection's goroutines serve the interactive lane first, with a share
// kept for bulk.
const (
	laneInteractive = "interactive"
	laneBulk        = "bulk"
)

// bulkConsumerPrefix starts the name of every connection's bulk consumer:
// apart from consumerPrefix, so that no connection name makes one
// connection's bulk consumer another's interactive one.
const bulkConsumerPrefix = "syncbulk_"

// bulkConsumerName is the durable consumer of one connection's bulk
// commands.
func bulkConsumerName(connection string) string { return bulkConsumerPrefix + connection }

// bulkShareEvery keeps bulk's share: a goroutine that serves both lanes
// takes a waiting bulk command first on one pick in bulkShareEvery, so
// that a steady stream of interactive commands slows a migration down
// without stopping it.
const bulkShareEvery = 4

// lanePool works one connection's two lanes with maxInFlight goroutines.
// A quarter of them (maxInFlight/4, rounded down: none below a maxInFlight
// of four) serve only the interactive lane, so that an interactive command
// finds a goroutine even while bulk commands hold the others (waiting for
// a busy resource or a slow provider); the others serve interactive
// commands first and bulk ones otherwise, and bulk first on one pick in
// bulkShareEvery.
type lanePool struct {
	workers           int
	interactive, bulk *consumeLoop
}

func (w *Worker) newLanePool(c Connection) *lanePool {
	reserved := c.MaxInFlight / 4
	return &lanePool{
		workers: c.MaxInFlight,
		interactive: w.newConsumeLoop(consumerName(c.Name), w.cfg.Subjects.ConnectionCommands(c.Name),
			c.Name, laneInteractive, c.MaxInFlight),
		bulk: w.newConsumeLoop(bulkConsumerName(c.Name), w.cfg.Subjects.ConnectionBulkCommands(c.Name),
			c.Name, laneBulk, c.MaxInFlight-reserved),
	}
}

// loops are the pool's consume loops.
func (p *lanePool) loops() []*consumeLoop { return []*consumeLoop{p.interactive, p.bulk} }

// run pulls both lanes until the worker stops, or one of them fails for
// good (its consumer is gone: the other stops too, and run returns the
// error), then waits for its goroutines.
func (p *lanePool) run(ctx context.Context) error {
	interactive, bulk := make(chan *tracked), make(chan *tracked)
	var workers sync.WaitGroup
	reserved := p.workers - p.bulk.workers
	for i := range p.workers {
		workers.Go(func() { p.serve(interactive, bulk, i >= reserved) })
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.interactive.pull(gctx, interactive) })
	g.Go(func() error { return p.bulk.pull(gctx, bulk) })
	err := g.Wait()
	close(interactive)
	close(bulk)
	workers.Wait()
	return err
}

// serve works messages of the lanes until both are closed: interactive
// ones first, and (withBulk) bulk ones, first on one pick in
// bulkShareEvery.
func (p *lanePool) serve(interactive, bulk <-chan *tracked, withBulk bool) {
	if !withBulk {
		for t := range interactive {
			p.interactive.work(t)
		}
		return
	}
	for picks := 1; interactive != nil || bulk != nil; picks++ {
		first, second := interactive, bulk
		firstLoop, secondLoop := p.interactive, p.bulk
		if picks%bulkShareEvery == 0 {
			first, second = second, first
			firstLoop, secondLoop = secondLoop, firstLoop
		}
		var (
			t  *tracked
			ok bool
			l  = firstLoop
		)
		select {
		case t, ok = <-first:
		default:
			select {
			case t, ok = <-first:
			case t, ok = <-second:
				l = secondLoop
			}
		}
		if !ok { // that lane is closed: the worker is stopping
			if l == p.interactive {
				interactive = nil
			} else {
				bulk = nil
			}
			continue
		}
		l.work(t)
	}
}
