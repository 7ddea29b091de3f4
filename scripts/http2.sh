#!/usr/bin/env bash
# HTTP/1.1 against HTTP/2 (h2c, `pushlab load --http2`), side by side, one
# build, interleaved round by round so that a machine's drift hits both
# alike. Only the ratios between the two carry over to another machine.
#
#   scripts/http2.sh [BIN] [OUT]      BIN defaults to target/release/pushlab
#   ROUNDS=3 scripts/http2.sh …
#
# Per round and protocol (server on core 0, load tool on core 1):
#   bytes      100 clients short-polling every 500 ms for 20 s, one message a
#              second: bytes per poll on the tool's sockets, each way (exact:
#              HTTP/2's preface, SETTINGS and WINDOW_UPDATE frames included,
#              spread over a connection's 40 polls)
#   cpu        1,000 clients polling every 200 ms (5,000 polls/s) for 10 s,
#              one message a second: server CPU per poll
#   idle-<t>   5,000 idle long-polls or SSE streams, each its own connection:
#              server KB per client
# Writes one line per measurement to OUT (default results/http2/http2.txt),
# then the medians per protocol.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/pushlab}
OUT=${2:-results/http2/http2.txt}
ROUNDS=${ROUNDS:-3}
mkdir -p "$(dirname "$OUT")"
json=$(mktemp -d)
trap 'rm -rf "$json"' EXIT

load() { # NAME ARGS…: one `pushlab load --spawn` run, its JSON in $json/NAME.json
  local name=$1
  shift
  taskset -c 1 "$BIN" load --spawn --server-cores 0 --arrivals fixed "$@" \
    --json "$json/$name.json" >/dev/null 2>&1
}
field() { # NAME TECHNIQUE EXPRESSION over the technique's report `t`
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['techniques'][sys.argv[2]]; print(eval(sys.argv[3]))" \
    "$json/$1.json" "$2" "$3"
}
measure() { # LABEL FLAGS…
  local label=$1
  shift
  load bytes --technique poll --clients 100 --rate 1 --poll-interval 500ms --duration 20s "$@"
  echo "$label poll_bytes_up_per_poll $(field bytes poll "t['bytes_up'] / t['requests']")"
  echo "$label poll_bytes_down_per_poll $(field bytes poll "t['bytes_down'] / t['requests']")"
  load cpu --technique poll --clients 1000 --rate 1 --poll-interval 200ms --duration 10s "$@"
  echo "$label poll_server_cpu_us_per_poll $(field cpu poll "t['server_cpu_s'] * 1e6 / t['requests']")"
  echo "$label poll_requests_per_s $(field cpu poll "t['requests'] / t['publish_seconds']")"
  for t in longpoll sse; do
    load "idle-$t" --technique "$t" --clients 5000 --rate 0 --duration 2s "$@"
    echo "$label idle_${t}_kb_per_client $(field "idle-$t" "$t" "t['server_kb_per_client']")"
  done
}
{
  echo "# scripts/http2.sh on $(date -u +%Y-%m-%d): $BIN, $ROUNDS interleaved rounds; h1 = HTTP/1.1, h2 = h2c (load --http2)"
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
      measure h1; measure h2 --http2
    else
      measure h2 --http2; measure h1
    fi
  done
} | tee "$OUT"
python3 - "$OUT" <<'PY' | tee -a "$OUT"
import collections, statistics, sys
values = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[0] in ("h1", "h2"):
        values[(parts[1], parts[0])].append(float(parts[2]))
for name in sorted({k[0] for k in values}):
    a, b = statistics.median(values[(name, "h1")]), statistics.median(values[(name, "h2")])
    print(f"median {name} h1 {a:.3f} h2 {b:.3f} h2/h1 {b / a if a else float('nan'):.3f}")
PY
