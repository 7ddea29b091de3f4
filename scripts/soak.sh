#!/usr/bin/env bash
# Soak: one `pushlab serve` for about ten minutes, loaded by each technique in
# turn with 2,000 clients (short polling, long-polling, SSE, WebSocket, 150 s
# of publishing each), its resident memory sampled every 10 s into a CSV.
#
# One server for the whole run, so the CSV shows whether memory comes back
# down after each wave of 2,000 connections opens, works and closes (a leak
# would make every phase start higher than the last). In turn rather than
# all at once, because each load process times messages against its own
# clock: four publishers on one server would each see the others' messages
# with a foreign clock, and latency would mean nothing.
#
# Usage: scripts/soak.sh [OUT_DIR]   (default results/soak)
# Env:   SOAK_PHASE (150s), SOAK_CLIENTS (2000), SOAK_RATE (20 msg/s), SOAK_PAYLOAD (200 B)
# The server is pinned to core 0 and the load tool to core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/soak}
PHASE=${SOAK_PHASE:-150s}
CLIENTS=${SOAK_CLIENTS:-2000}
RATE=${SOAK_RATE:-20}
PAYLOAD=${SOAK_PAYLOAD:-200}
ADDR=127.0.0.1:18181
mkdir -p "$OUT"
cargo build --release --quiet
# 2,000 sockets in the server and as many in the load tool.
ulimit -n "$(ulimit -Hn)"

taskset -c 0 target/release/pushlab serve --addr "$ADDR" --rate 0 --workers 1 &
SERVER=$!
SAMPLER=
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  kill "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fs "http://$ADDR/healthz" >/dev/null && break
  sleep 0.1
done

# Resident memory every 10 s, with the phase running at the time.
echo idle >"$OUT/.phase"
echo "elapsed_s,rss_kb,phase" >"$OUT/rss.csv"
(
  start=$(date +%s)
  while kill -0 "$SERVER" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status")
    echo "$(($(date +%s) - start)),$rss,$(cat "$OUT/.phase")" >>"$OUT/rss.csv"
    sleep 10
  done
) &
SAMPLER=$!

for t in poll longpoll sse ws; do
  echo "$t" >"$OUT/.phase"
  taskset -c 1 target/release/pushlab load --url "http://$ADDR" --technique "$t" \
    --clients "$CLIENTS" --rate "$RATE" --arrivals fixed --payload "$PAYLOAD" --duration "$PHASE" \
    --ramp 5s --json "$OUT/$t.json"
done
echo idle >"$OUT/.phase"
sleep 20 # two more samples after the last wave has gone
rm -f "$OUT/.phase"

python3 - "$OUT" <<'PY'
import csv, json, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/rss.csv")))
rss = [int(r["rss_kb"]) for r in rows if r["rss_kb"]]
print(f"RSS: start {rss[0]} KB, end {rss[-1]} KB, max {max(rss)} KB ({len(rss)} samples)")
for t in ["poll", "longpoll", "sse", "ws"]:
    r = json.load(open(f"{out}/{t}.json"))["techniques"][t]
    lat = r.get("latency_ms", {})
    print(t, {k: r.get(k) for k in ["clients", "published", "expected", "delivered", "lost", "duplicates", "gaps", "errors", "server_rss_kb"]}, "latency_ms", lat)
PY
