#!/usr/bin/env bash
# What a shared broker costs and buys: WebSocket fan-out through one pushlab
# instance alone, one instance over Redis, and two instances over Redis with
# the clients split between them. Writes results/broker/ (JSON per run and a
# Markdown summary) for chapter 7 to quote.
#
# Every server-side process (pushlab instances and redis-server) is pinned to
# core 0 and the load tool to core 1, so the three set-ups get the same CPU:
# on a two-core machine, two instances share one core with Redis. Needs
# redis-server (Debian: apt-get install redis-server) and taskset.
# Latency is the tool's (receive time minus its scheduled publish time, the
# POST included); "server" latency is the first instance's own (its publish
# time, before the broker round trip, to the hand-over to the socket).
#
#   fanout-10k-*   10,000 WebSocket clients, 20 messages/s for 10 s
#   latency-100-*  100 clients, 20 messages/s: the broker's added latency
#                  without queueing behind a big fan-out
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=target/release/pushlab
OUT=results/broker
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || true

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
up() { # wait until a pushlab answers on port $1
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done
  echo "no pushlab on port $1" >&2; exit 1
}
REDIS_PID=
INSTANCE_PIDS=()
cleanup() { kill $REDIS_PID "${INSTANCE_PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

REDIS_PORT=$(free_port)
taskset -c 0 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  >/dev/null &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
BROKER="redis://127.0.0.1:$REDIS_PORT"

# Starts $1 instances (with extra serve flags $2…); their --url flags in URLS.
instances() {
  local count=$1; shift
  URLS=()
  for _ in $(seq "$count"); do
    local port
    port=$(free_port)
    RUST_LOG=warn taskset -c 0 "$BIN" serve --addr "127.0.0.1:$port" --rate 0 --publish-rate 0 \
      --workers 1 "$@" >/dev/null &
    INSTANCE_PIDS+=($!)
    up "$port"
    URLS+=(--url "http://127.0.0.1:$port")
  done
}

redis_cpu() { # Redis's user+system CPU seconds so far
  redis-cli -p "$REDIS_PORT" info cpu | awk -F: '/used_cpu_(sys|user):/ {s += $2} END {print s}'
}

# run NAME CLIENTS COUNT [serve flags…]
run() {
  local name=$1 clients=$2 count=$3; shift 3
  local cpu_before
  instances "$count" "$@"
  cpu_before=$(redis_cpu)
  taskset -c 1 "$BIN" load "${URLS[@]}" --technique ws --clients "$clients" --rate 20 --arrivals fixed \
    --duration 10s --json "$OUT/$name.json"
  awk -v a="$(redis_cpu)" -v b="$cpu_before" 'BEGIN {printf "%.2f\n", a - b}' \
    > "$OUT/$name.redis-cpu"
  # The servers' own view: publish-to-hand-over latency and broker round trips.
  local n=0
  for ((i = 1; i < ${#URLS[@]}; i += 2)); do
    n=$((n + 1))
    curl -fs "${URLS[$i]}/api/stats" > "$OUT/$name.stats-$n.json"
  done
  kill "${INSTANCE_PIDS[@]}" 2>/dev/null || true
  wait "${INSTANCE_PIDS[@]}" 2>/dev/null || true
  INSTANCE_PIDS=()
}

run fanout-10k-one-local 10000 1
run fanout-10k-one-redis 10000 1 --broker "$BROKER"
run fanout-10k-two-redis 10000 2 --broker "$BROKER"
run latency-100-one-local 100 1
run latency-100-one-redis 100 1 --broker "$BROKER"
run latency-100-two-redis 100 2 --broker "$BROKER"

python3 - "$OUT" <<'EOF' | tee "$OUT/summary.md"
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("| run | instances | broker | clients | delivered / expected | deliveries/s | p50 ms | p99 ms | max ms | burst spread max ms | server p50 / p99 ms | broker round trip p50 / p99 ms | server CPU s | Redis CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for name in ["fanout-10k-one-local", "fanout-10k-one-redis", "fanout-10k-two-redis",
             "latency-100-one-local", "latency-100-one-redis", "latency-100-two-redis"]:
    ws = json.loads((out / f"{name}.json").read_text())["techniques"]["ws"]
    redis_cpu = float((out / f"{name}.redis-cpu").read_text() or 0)
    instances = "2" if "two" in name else "1"
    broker = "redis" if "redis" in name else "none"
    l = ws["latency_ms"]
    # Server-side figures of the first instance (the one the tool publishes to).
    stats = json.loads((out / f"{name}.stats-1.json").read_text())
    sl = stats["techniques"]["ws"]["latency_ms"]
    rt = stats["broker"]["round_trip_ms"]
    round_trip = f"{rt['p50']:.2f} / {rt['p99']:.2f}" if broker == "redis" else "–"
    print(f"| {name} | {instances} | {broker} | {ws['clients']:,} | {ws['delivered']:,} / {ws['expected']:,} "
          f"| {ws['deliveries_per_s']:,.0f} | {l['p50']:.2f} | {l['p99']:.2f} | {l['max']:.2f} "
          f"| {ws['burst_spread_ms']['max']:.1f} | {sl['p50']:.2f} / {sl['p99']:.2f} | {round_trip} "
          f"| {ws['server_cpu_s']:.2f} | {redis_cpu:.2f} |")
EOF
