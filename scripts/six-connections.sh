#!/usr/bin/env bash
# The six-connection limit of HTTP/1.1, measured in a real browser: the page
# open in 3, 4, 6 and 7 tabs of one headless Chromium against one server with
# the generator at 1 message/s (scripts/six-connections.mjs does the
# browser part). Writes results/browser/six-connections.json.
# Needs Chromium and `npm ci --prefix tests/browser`. PUSHLAB names the
# binary (default target/release/pushlab, built here).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=results/browser/six-connections.json
PUSHLAB=${PUSHLAB:-target/release/pushlab}
if [ "$PUSHLAB" = target/release/pushlab ]; then cargo build --release --quiet; fi
mkdir -p results/browser
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$PUSHLAB" serve --addr "127.0.0.1:$PORT" --rate 1 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
SIX_SERVER="pushlab serve --rate 1 ($(basename "$(dirname "$PUSHLAB")") build)" \
  node scripts/six-connections.mjs "http://127.0.0.1:$PORT/" "$OUT" 3 4 6 7
