package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

// loadProvider is one provider: its simulator, seeded for a run, the
// connection's credentials, and the commands the run sends it.
type loadProvider struct {
	name string
	// newSim seeds n resources in a fresh simulator answering after
	// latency and returns it and its resource ids. It runs in the
	// simulator child only.
	newSim func(n int, latency time.Duration) (http.Handler, []string)
	// auth is the connection's auth block for the worker (a YAML flow
	// mapping); creds the same keys for the minimal pipeline.
	auth  string
	creds map[string]string
	// changes is what command i sets.
	changes func(i int) messages.Data
}

var loadProviders = []loadProvider{
	{
		name: rocketchat.Provider,
		newSim: func(n int, latency time.Duration) (http.Handler, []string) {
			sim := rocketchatsim.New(rocketchatsim.Options{UserID: "loadUser000000001", AuthToken: "load-token", RateLimit: 1 << 30, NoRecord: true, Latency: latency})
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("%024x", i+1)
				sim.Seed(rocketchatsim.App{ID: ids[i], Name: "app", Active: true, RedirectURI: "https://x.example.com/cb", ClientID: "c", ClientSecret: "s"})
			}
			return sim, ids
		},
		auth:  "{userId: loadUser000000001, authToken: load-token}",
		creds: map[string]string{"userId": "loadUser000000001", "authToken": "load-token"},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{Name: ptr("n" + strconv.Itoa(i))}}
		},
	},
	{
		name: reelevant.Provider,
		newSim: func(n int, latency time.Duration) (http.Handler, []string) {
			sim := reelevantsim.New(reelevantsim.Options{Token: "load-token", NoRecord: true, Latency: latency})
			ids := make([]string, n)
			for i := range ids {
				ids[i] = sim.Seed(fmt.Sprintf("%024x", i+1), map[string]any{"clientId": "c"})
			}
			return sim, ids
		},
		auth:  "{bearerToken: load-token}",
		creds: map[string]string{"bearerToken": "load-token"},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{ClientID: ptr("c" + strconv.Itoa(i))}}
		},
	},
	{
		name: hybriddatapipeline.Provider,
		newSim: func(n int, latency time.Duration) (http.Handler, []string) {
			sim := hdpsim.New(hdpsim.Options{Username: "load", Password: "load-password", NoRecord: true, Latency: latency})
			ids := make([]string, n)
			for i := range ids {
				sim.Seed(hdpsim.App{ID: int64(i + 1), Name: "app", DataStore: 54, TenantID: 1, ClientID: "c", ClientSecret: "s",
					AuthorizeURI: "https://idp.example.com/a", TokenURI: "https://idp.example.com/t", Scope: "api"})
				ids[i] = strconv.Itoa(i + 1)
			}
			return sim, ids
		},
		auth:  "{username: load, password: load-password}",
		creds: map[string]string{"username": "load", "password": "load-password"},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{Name: ptr("n_" + strconv.Itoa(i))}}
		},
	},
	{
		name: jframework.Provider,
		newSim: func(n int, latency time.Duration) (http.Handler, []string) {
			sim := jframeworksim.New(jframeworksim.Options{BrandURL: "load.example.com", AuthKey: "load-key", RateLimit: 1 << 30, NoRecord: true, Latency: latency})
			ids := make([]string, n)
			for i := range ids {
				ids[i] = "auth-" + strconv.Itoa(i+1)
				sim.Seed(jframeworksim.Integration{ID: ids[i], Code: "c", Name: "app", ProjectID: "p", ClientID: "c",
					ClientSecret: "s", RedirectURI: "https://x.example.com/cb", Scope: "openid"})
			}
			return sim, ids
		},
		auth:  "{brandURL: load.example.com, authKey: load-key}",
		creds: map[string]string{"brandURL": "load.example.com", "authKey": "load-key"},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{Name: ptr("n" + strconv.Itoa(i))}}
		},
	},
}

func providerByName(name string) (loadProvider, bool) {
	for _, p := range loadProviders {
		if p.name == name {
			return p, true
		}
	}
	return loadProvider{}, false
}

func ptr[T any](v T) *T { return &v }

// The simulator child's control routes (never counted as provider
// requests).
const (
	ctlReset = "/_syncload/reset" // POST ?resources=N: a fresh, seeded simulator; JSON {"ids": [...]}
	ctlStats = "/_syncload/stats" // GET: JSON {"requests": n} since the last reset
)

// simHost serves the current simulator, counting its requests, and the
// control routes.
type simHost struct {
	p       loadProvider
	latency time.Duration

	mu  sync.Mutex // serializes resets
	sim atomic.Pointer[http.Handler]
	n   atomic.Int64
}

func (h *simHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case ctlReset:
		n, err := strconv.Atoi(r.URL.Query().Get("resources"))
		if err != nil || n < 1 {
			http.Error(w, "resources must be a positive integer", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		sim, ids := h.p.newSim(n, h.latency)
		h.sim.Store(&sim)
		h.n.Store(0)
		h.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"ids": ids})
		return
	case ctlStats:
		_ = json.NewEncoder(w).Encode(map[string]int64{"requests": h.n.Load()})
		return
	}
	sim := h.sim.Load()
	if sim == nil {
		http.Error(w, "not seeded", http.StatusServiceUnavailable)
		return
	}
	h.n.Add(1)
	(*sim).ServeHTTP(w, r)
}

// runSimChild is the simulator child (syncload _sim): it serves one
// provider's simulator on a loopback port, says "listening <addr>" on
// stdout, and serves until SIGTERM.
func runSimChild(args []string) error {
	fs := flag.NewFlagSet("_sim", flag.ContinueOnError)
	provider := fs.String("provider", "", "provider")
	latency := fs.Duration("latency", 0, "wait before every answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, ok := providerByName(*provider)
	if !ok {
		return fmt.Errorf("unknown provider %q", *provider)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: &simHost{p: p, latency: *latency}, ReadHeaderTimeout: 5 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		_ = srv.Close()
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// simProc is a running simulator child, as the parent sees it.
type simProc struct {
	cmd  *exec.Cmd
	addr string
}

// startChild starts syncload itself in a hidden sub-mode and waits for its
// first stdout line, which must start with want; the rest of the line is
// returned. The child's stderr goes to log.
func startChild(log io.Writer, want string, args ...string) (*exec.Cmd, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive syncload
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
				continue
			}
			fmt.Fprintln(log, sc.Text())
		}
		if first {
			close(lines)
		}
	}()
	select {
	case line, ok := <-lines:
		if rest, found := strings.CutPrefix(line, want+" "); ok && found {
			return cmd, rest, nil
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", fmt.Errorf("%s child: first line %q, want %q", args[0], line, want+" ...")
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", fmt.Errorf("%s child: not up after 60s", args[0])
	}
}

func startSim(log io.Writer, provider string, latency time.Duration) (*simProc, error) {
	cmd, addr, err := startChild(log, "listening", "_sim", "-provider", provider, "-latency", latency.String())
	if err != nil {
		return nil, err
	}
	return &simProc{cmd: cmd, addr: addr}, nil
}

// reset gives the simulator fresh, seeded resources and returns their ids.
func (s *simProc) reset(resources int) ([]string, error) {
	resp, err := http.Post("http://"+s.addr+ctlReset+"?resources="+strconv.Itoa(resources), "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v struct {
		IDs []string `json:"ids"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("simulator reset: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	return v.IDs, nil
}

// requests is the number of provider requests since the last reset.
func (s *simProc) requests() (int64, error) {
	resp, err := http.Get("http://" + s.addr + ctlStats)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Requests int64 `json:"requests"`
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v.Requests, err
}

func (s *simProc) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}
