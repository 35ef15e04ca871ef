# oauthsync — `make help` lists the targets.
GO          ?= go
PKGS        ?= ./...
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Every build of `make test` uses -race, also deploy/'s (its own module)
# and the programs tests build and run as processes (testenv.GoBuildFlags):
# the standard library, NATS, Redis, OpenTelemetry and our packages are then
# compiled once, in one flavour, and a cold build cache costs minutes less.
RACE        ?= -race
# A race-built program that exits 0 sleeps a second first (the race
# runtime's atexit_sleep_ms), as does every test binary and every process a
# test runs: minutes of a run. Races are still reported, before the exit.
export GORACE ?= atexit_sleep_ms=0
TEST_FLAGS  ?= $(RACE) -count=1 -timeout 15m
DEPLOY_TEST_FLAGS ?= $(RACE) -count=1 -timeout 15m

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: test
test: servers ## run every test against real NATS (127.0.0.1:4222) and Redis (127.0.0.1:6379) with -race: the product, then deploy/
	@echo "== the product's packages: $(GO) test $(TEST_FLAGS) $(PKGS)"
	@echo "   (a cold build cache compiles for minutes first: a progress line every minute)"
	@GO=$(GO) ./.ci/gotest . -- $(TEST_FLAGS) $(PKGS)
	@echo "== deploy/ (its own module: manifests, dashboards, alerts, production configs): $(GO) test $(DEPLOY_TEST_FLAGS) ./..."
	@GO=$(GO) ./.ci/gotest deploy -- $(DEPLOY_TEST_FLAGS) ./...

.PHONY: servers
servers: ## check that NATS JetStream and Redis answer (fails, never skips, when missing)
	@$(GO) run $(RACE) ./internal/testenv/cmd/checkservers

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	cd deploy && $(GO) vet ./... && $(STATICCHECK) ./...

.PHONY: fuzz
fuzz: ## run each fuzzer for FUZZTIME (default 20s)
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		pkg=./$$(dirname $$f); \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
			echo "== $$pkg $$fn"; $(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $${FUZZTIME:-20s} || exit 1; \
		done; \
	done

# BENCH_SERVERS: where make bench's pipelines run. Their own NATS and Redis by
# default, so that nothing else on the machine shows in their CPU;
# BENCH_SERVERS= uses the machine's (127.0.0.1:4222 and :6379).
BENCH_SERVERS ?= -own-servers

.PHONY: bench
bench: servers ## syncworker beside a minimal pipeline in one run (cmd/syncload): reelevant, 50k commands over 1k resources, then at a 50 ms provider, then the other providers (20k); then `nats bench` and go benchmarks. PROVIDER=<name> runs that provider alone; COMMANDS, RESOURCES, LATENCY_COMMANDS, ROUNDS (of the first, 3) override
	$(GO) build -o bin/syncworker ./cmd/syncworker
	$(GO) build -o bin/syncload ./cmd/syncload
	bin/syncload $(BENCH_SERVERS) -worker-bin bin/syncworker -provider $${PROVIDER:-reelevant} -commands $${COMMANDS:-50000} -resources $${RESOURCES:-1000} -rounds $${ROUNDS:-3}
	bin/syncload $(BENCH_SERVERS) -worker-bin bin/syncworker -provider $${PROVIDER:-reelevant} -commands $${LATENCY_COMMANDS:-5000} -resources $${RESOURCES:-1000} -provider-latency 50ms
	@if [ -z "$${PROVIDER:-}" ]; then \
		echo "bin/syncload $(BENCH_SERVERS) -worker-bin bin/syncworker -provider rocketchat,hybriddatapipeline,jframework -commands $${COMMANDS:-20000} -resources $${RESOURCES:-1000}"; \
		bin/syncload $(BENCH_SERVERS) -worker-bin bin/syncworker -provider rocketchat,hybriddatapipeline,jframework -commands $${COMMANDS:-20000} -resources $${RESOURCES:-1000}; \
	fi
	@./deploy/nats-bench.sh
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

.PHONY: dev
dev: ## run the product end to end on its embedded default
	$(GO) run ./cmd/syncworker dev
