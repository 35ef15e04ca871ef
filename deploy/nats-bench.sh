#!/usr/bin/env bash
# The machine's own JetStream figures beside `make bench`: publish, then a
# durable pull consumer with explicit acks, 100,000 messages of ~400 bytes
# (the size of a command). Installs the NATS CLI when it is missing.
set -euo pipefail
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
MSGS=${COMMANDS:-100000}
nats=$(command -v nats || true)
if [ -z "$nats" ]; then
  GOFLAGS= go install github.com/nats-io/natscli/nats@v0.5.1
  nats="$(go env GOPATH)/bin/nats"
fi
stream="BENCH_$RANDOM"
trap '"$nats" --server "$NATS_URL" stream rm -f "$stream" >/dev/null 2>&1 || true' EXIT
echo "== nats bench (JetStream on $NATS_URL, $MSGS messages of 400 B)"
"$nats" --server "$NATS_URL" bench js pub "$stream.subj" --create --stream "$stream" --msgs "$MSGS" --size 400 --storage file --no-progress --purge
"$nats" --server "$NATS_URL" bench js consume --stream "$stream" --msgs "$MSGS" --acks explicit --batch 64 --no-progress
