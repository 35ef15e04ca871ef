package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// shutdownTimeout bounds how long in-flight requests may finish on stop.
const shutdownTimeout = 5 * time.Second

// endpoint is one simulator listening.
type endpoint struct {
	sim simulator
	url string // http://host:port
}

// serveSimulators listens on addrs[sim.provider] for each simulator (an
// empty or missing address turns that simulator off), calls ready with the
// bound endpoints, and serves until ctx is done; then it stops accepting,
// lets in-flight requests finish for up to shutdownTimeout and returns. A
// port that cannot be bound is an error before anything is served.
func serveSimulators(ctx context.Context, sims []simulator, addrs map[string]string,
	wrap func(simulator) http.Handler, logger *slog.Logger, ready func([]endpoint)) error {
	var listeners []net.Listener
	var endpoints []endpoint
	closeAll := func() {
		for _, ln := range listeners {
			_ = ln.Close()
		}
	}
	for _, s := range sims {
		addr := addrs[s.provider]
		if addr == "" {
			logger.Info("simulator off (no address)", "provider", s.provider)
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("--%s-addr %s: %w", s.provider, addr, err)
		}
		listeners = append(listeners, ln)
		endpoints = append(endpoints, endpoint{sim: s, url: "http://" + ln.Addr().String()})
	}
	if len(endpoints) == 0 {
		return errors.New("every simulator is off: give at least one --<provider>-addr")
	}

	g, gctx := errgroup.WithContext(ctx)
	for i, ep := range endpoints {
		srv := &http.Server{Handler: wrap(ep.sim), ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		ln := listeners[i]
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s simulator: %w", ep.sim.provider, err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			return srv.Shutdown(sctx)
		})
		logger.Info("simulator listening", "provider", ep.sim.provider, "url", ep.url, "connection", ep.sim.connection)
	}
	if ready != nil {
		ready(endpoints)
	}
	err := g.Wait()
	logger.Info("simulators stopped")
	return err
}
