#!/usr/bin/env bash
# The machine's own JetStream figures beside `make bench`: async publish with
# Nats-Msg-Id, then a durable consumer with explicit acks, once with double
# acks (the worker's mode) and once with plain acks — 100,000 messages of
# 400 bytes, about the size of a command. Installs the NATS CLI if missing.
set -euo pipefail
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
MSGS=${COMMANDS:-100000}
nats=$(command -v nats || true)
if [ -z "$nats" ]; then
  GOFLAGS= go install github.com/nats-io/natscli/nats@v0.5.1
  nats="$(go env GOPATH)/bin/nats"
fi
streams=()
trap 'for s in "${streams[@]}"; do "$nats" --server "$NATS_URL" stream rm -f "$s" >/dev/null 2>&1 || true; done' EXIT
echo "== nats bench: JetStream on $NATS_URL, $MSGS messages of 400 B"
for mode in doubleack ack; do
  stream="oauthsync_bench_${mode}_$RANDOM"; streams+=("$stream")
  flag=--no-doubleack; [ "$mode" = doubleack ] && flag=--doubleack
  "$nats" --server "$NATS_URL" bench js pub async "$stream.subj" --stream "$stream" --create --dedup --msgs "$MSGS" --size 400 --storage file --no-progress 2>&1 | grep -E "stats"
  echo -n "($mode) "
  "$nats" --server "$NATS_URL" bench js consume --stream "$stream" --msgs "$MSGS" --acks explicit $flag --no-progress 2>&1 | grep -E "stats"
done
