#!/usr/bin/env bash
# The crossover (chapter 6): 1,000 clients per technique at message rates
# from 0.1 to 100 per second, random (Poisson) arrivals, short polls every
# 1 s, long-poll timeout 25 s; for each rate and technique, bytes, server
# CPU and requests per delivered message and latency p50/p99. Writes
# results/crossover/: crossover.json, .csv, .md and one SVG per measure.
#
#   scripts/crossover.sh              the whole sweep (about 15 minutes)
#   CLIENTS=100 DURATION=5s scripts/crossover.sh   a quick look
#
# The server (a fresh one per technique and rate) is pinned to core 0 and
# the load tool to core 1, as in scripts/compare.sh; run it on a quiet
# machine. A row whose tool_bound is true measured the tool, not the server.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=results/crossover
CLIENTS=${CLIENTS:-1000}
DURATION=${DURATION:-15s}
RATES=${RATES:-0.1,0.3,1,3,10,30,100}
mkdir -p "$OUT"
cargo build --release --quiet
taskset -c 1 target/release/pushlab load --spawn --server-cores 0 \
  --technique all --clients "$CLIENTS" --rates "$RATES" --arrivals poisson \
  --poll-interval 1s --longpoll-timeout 25s --duration "$DURATION" --payload 64 \
  --json "$OUT/crossover.json" --csv "$OUT/crossover.csv" \
  --svg "$OUT/crossover.svg" --markdown "$OUT/crossover.md"
echo "written: $OUT/"
