#!/usr/bin/env bash
# The headline figures of "pushlab load" on this machine, each a JSON file in
# results/figures/ (server pinned to core 0, load tool to core 1):
#   ws-fanout-1k       1,000 WebSocket subscribers, 1,000 messages/s of 64 bytes
#   ws-fanout-1k-1200  the same at 1,200 messages/s (1.2 M deliveries/s offered)
#   ws-10k-20          10,000 WebSocket subscribers at 20 messages/s
#   idle-<t>-<n>       server memory with n idle clients (1,000 and 10,000)
#   longpoll-wake-10k  10,000 parked long-polls, each publish wakes them all
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=results/figures
mkdir -p "$OUT"
cargo build --release --quiet
load() { taskset -c 1 target/release/pushlab load --spawn --server-cores 0 --arrivals fixed "$@"; }

load --technique ws --clients 1000 --rate 1000 --payload 64 --duration 10s --json "$OUT/ws-fanout-1k.json"
load --technique ws --clients 1000 --rate 1200 --payload 64 --duration 10s --json "$OUT/ws-fanout-1k-1200.json"
load --technique ws --clients 10000 --rate 20 --payload 64 --duration 10s --json "$OUT/ws-10k-20.json"
for t in ws sse longpoll; do
  for n in 1000 10000; do
    load --technique "$t" --clients "$n" --rate 0 --json "$OUT/idle-$t-$n.json"
  done
done
load --technique longpoll --clients 10000 --rate 1 --duration 10s --json "$OUT/longpoll-wake-10k.json"

# Memory per client: the slope of idle server memory from 1,000 to 10,000 clients.
for t in ws sse longpoll; do
  python3 - "$OUT/idle-$t-1000.json" "$OUT/idle-$t-10000.json" "$t" <<'PY'
import json, sys
small, large = (json.load(open(p))["techniques"][sys.argv[3]] for p in sys.argv[1:3])
slope = (large["server_rss_idle_kb"] - small["server_rss_idle_kb"]) / (large["clients"] - small["clients"])
print(f"{sys.argv[3]}: {slope:.2f} KB of server memory per idle client (slope 1,000 -> 10,000)")
PY
done | tee "$OUT/memory-per-client.txt"
