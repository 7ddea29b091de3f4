#!/usr/bin/env bash
# A/B: the headline figures of two builds of pushlab, measured in one run,
# interleaved round by round so that a machine's drift hits both alike.
# For a change that should move nothing (a restructuring), or to see what
# one did move. Only the ratios between A and B in one run carry over.
#
#   scripts/ab.sh BIN_A BIN_B [OUT]       e.g. an older build's
#                                         target/release/pushlab and this one's
#   ROUNDS=3 scripts/ab.sh …
#
# Per round and build (server on core 0, load tool and wrk on core 1):
#   fanout     1,000 WebSocket subscribers, 1,000 msg/s of 64 bytes, 5 s:
#              deliveries per second and server CPU
#   idle-<t>   10,000 idle clients of ws, sse, longpoll: server KB per client
#   wake       10,000 parked long-polls woken by each publish: last answer
#   poll       short polls per second against /healthz (wrk, 4 s each)
# Writes one line per measurement to OUT (default results/ab/ab.txt), then
# the medians per build.
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?usage: scripts/ab.sh BIN_A BIN_B [OUT]}
B=${2:?usage: scripts/ab.sh BIN_A BIN_B [OUT]}
OUT=${3:-results/ab/ab.txt}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18091}
mkdir -p "$(dirname "$OUT")"
json=$(mktemp -d)
trap 'rm -rf "$json"' EXIT

load() { # BIN NAME ARGS…: one `pushlab load --spawn` run, its JSON in $json/NAME.json
  local bin=$1 name=$2
  shift 2
  # Publishing on a fixed schedule, as builds from before --arrivals did.
  local arrivals=()
  if "$bin" load --help | grep -q -- --arrivals; then arrivals=(--arrivals fixed); fi
  taskset -c 1 "$bin" load --spawn --server-cores 0 "${arrivals[@]}" "$@" \
    --json "$json/$name.json" >/dev/null 2>&1
}
field() { # NAME TECHNIQUE FIELD
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['techniques'][sys.argv[2]][sys.argv[3]])" \
    "$json/$1.json" "$2" "$3"
}
poll_ratio() { # BIN: /api/poll requests per second over /healthz's
  local bin=$1
  taskset -c 0 "$bin" --rate 1 --workers 1 --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
  local server=$!
  sleep 1
  local trivial poll
  trivial=$(taskset -c 1 wrk -t1 -c64 -d4s "http://127.0.0.1:$PORT/healthz" | awk '/Requests\/sec/{print $2}')
  poll=$(taskset -c 1 wrk -t1 -c64 -d4s "http://127.0.0.1:$PORT/api/poll" | awk '/Requests\/sec/{print $2}')
  kill "$server"
  wait "$server" 2>/dev/null || true
  awk -v t="$trivial" -v p="$poll" 'BEGIN{printf "%.3f", p/t}'
}
measure() { # LABEL BIN
  local label=$1 bin=$2
  load "$bin" fanout --technique ws --clients 1000 --rate 1000 --payload 64 --duration 5s
  echo "$label fanout_deliveries_per_s $(field fanout ws deliveries_per_s)"
  echo "$label fanout_server_cpu_s $(field fanout ws server_cpu_s)"
  for t in ws sse longpoll; do
    load "$bin" "idle-$t" --technique "$t" --clients 10000 --rate 0
    echo "$label idle_${t}_kb_per_client $(field "idle-$t" "$t" server_kb_per_client)"
  done
  load "$bin" wake --technique longpoll --clients 10000 --rate 1 --duration 5s
  echo "$label wake_last_answer_p50_ms $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['techniques']['longpoll']['last_receipt_ms']['p50'])" "$json/wake.json")"
  echo "$label poll_over_trivial $(poll_ratio "$bin")"
}
{
  echo "# scripts/ab.sh on $(date -u +%Y-%m-%d): A=$A B=$B, $ROUNDS interleaved rounds"
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
      measure A "$A"; measure B "$B"
    else
      measure B "$B"; measure A "$A"
    fi
  done
} | tee "$OUT"
python3 - "$OUT" <<'PY' | tee -a "$OUT"
import collections, statistics, sys
values = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[0] in "AB":
        values[(parts[1], parts[0])].append(float(parts[2]))
for name in sorted({k[0] for k in values}):
    a, b = statistics.median(values[(name, "A")]), statistics.median(values[(name, "B")])
    print(f"median {name} A {a:.3f} B {b:.3f} B/A {b / a if a else float('nan'):.3f}")
PY
