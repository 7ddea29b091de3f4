#!/usr/bin/env bash
# Short-poll throughput against a trivial route, measured the same way:
# wrk (Debian package `wrk`) on core 1, 64 keep-alive connections, against a
# server with one worker on core 0, alternating /healthz and /api/poll for
# ROUNDS rounds of 4 s. Writes results/figures/poll-vs-trivial.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-6}
PORT=${PORT:-18090}
OUT=results/figures/poll-vs-trivial.txt
mkdir -p results/figures
cargo build --release --quiet
taskset -c 0 target/release/pushlab --rate 1 --workers 1 --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
sleep 1
rps() { taskset -c 1 wrk -t1 -c64 -d4s "http://127.0.0.1:$PORT$1" | awk '/Requests\/sec/{print $2}'; }
{
  echo "# scripts/poll-vs-trivial.sh on $(date -u +%Y-%m-%d): requests/s, /healthz vs /api/poll"
  for _ in $(seq "$ROUNDS"); do
    trivial=$(rps /healthz)
    poll=$(rps /api/poll)
    echo "$trivial $poll" | awk '{printf "trivial %.0f poll %.0f ratio %.3f\n", $1, $2, $2/$1}'
  done
} | tee "$OUT"
awk '/^trivial/{print $6}' "$OUT" | sort -n |
  awk '{r[NR]=$1} END{printf "median ratio %.3f\n", (NR%2 ? r[(NR+1)/2] : (r[NR/2]+r[NR/2+1])/2)}' | tee -a "$OUT"
