#!/usr/bin/env bash
# Capacity at a latency target: for each technique, at 1 and at 10
# messages a second, the most clients one server core serves with p99
# latency under a target and nothing lost (`pushlab load --capacity`, see
# src/load/capacity.rs). Targets: 1,500 ms for short polls (every 1 s, so
# up to a second of waiting is the technique itself), 100 ms for long-poll,
# SSE and WebSocket. Writes results/capacity/: <technique>-<rate>.json and
# .md for each search, and capacity.md, the answers side by side.
#
#   scripts/capacity.sh                       every search (about half an hour)
#   TECHNIQUES=ws RATES=1 MAX=2000 DURATION=5s scripts/capacity.sh   a quick look
#   scripts/capacity.sh summary               capacity.md again, from the JSONs
#   HTTP2=1 scripts/capacity.sh               over HTTP/2 (h2c): poll, long-poll
#                                             and SSE, each client its own
#                                             connection of many streams, into
#                                             results/capacity/h2/ (WebSocket
#                                             stays on HTTP/1.1)
#
# Each step of a search is a fresh server pinned to core 0; the load tool is
# pinned to core 1, as in scripts/compare.sh. Run it on a quiet machine: a
# step in which the tool's core was busy (with anything) ends the search at
# "at least", the tool being the limit.
set -euo pipefail
cd "$(dirname "$0")/.."
HTTP2=${HTTP2:-0}
if [ "$HTTP2" = 1 ]; then
  OUT=${OUT:-results/capacity/h2}
  TECHNIQUES=${TECHNIQUES:-poll longpoll sse}
  protocol=(--http2)
else
  OUT=${OUT:-results/capacity}
  TECHNIQUES=${TECHNIQUES:-poll longpoll sse ws}
  protocol=()
fi
RATES=${RATES:-1 10}
START=${START:-500}
# The tool needs a file per client and a hundred more; 20,000 is the usual
# hard limit of open files here.
MAX=${MAX:-19000}
DURATION=${DURATION:-10s}
mkdir -p "$OUT"
cargo build --release --quiet

target_of() { # the p99 target, ms: a short poll waits up to its interval by design
  if [ "$1" = poll ]; then echo 1500; else echo 100; fi
}

[ "${1:-}" = summary ] && TECHNIQUES=""
for technique in $TECHNIQUES; do
  for rate in $RATES; do
    echo "== $technique at $rate msg/s, p99 ≤ $(target_of "$technique") ms${protocol[*]:+ (HTTP/2)}"
    taskset -c 1 target/release/pushlab load --spawn --server-cores 0 "${protocol[@]}" \
      --technique "$technique" --capacity --slo-p99 "$(target_of "$technique")" \
      --rate "$rate" --arrivals poisson --poll-interval 1s --longpoll-timeout 25s \
      --clients "$START" --capacity-max "$MAX" --duration "$DURATION" --payload 64 \
      --json "$OUT/$technique-$rate.json" --markdown "$OUT/$technique-$rate.md"
  done
done

# Every search in OUT, this run's and earlier ones' (TECHNIQUES=ws reruns
# WebSocket's alone), in the chapters' order.
searches() {
  for technique in poll longpoll sse ws; do
    ls "$OUT/$technique"-*.json 2>/dev/null | sort -t- -k2 -n
  done
}

# The answers side by side: "≥" where the tool or the maximum, not a failing
# step, ended the search; "unknown" where the tool was the limit before any
# step passed.
{
  echo "| technique | msg/s | p99 target ms | clients | server RSS MB | p99 there ms | ended by |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  for file in $(searches); do
      jq -r '[.technique, (.rate | tostring), (.slo_p99_ms | tostring),
          (if .answer.clients == null and .answer.stopped == "tool_bound" then "unknown"
           elif .answer.clients == null then "none"
           elif .answer.at_least then "≥ \(.answer.clients)"
           else "\(.answer.clients)" end),
          (if .answer.server_rss_kb == null then "–"
           else (.answer.server_rss_kb * 1024 / 1e6 * 10 | round / 10 | tostring) end),
          (if .answer.latency_p99_ms == null then "–"
           else (.answer.latency_p99_ms * 10 | round / 10 | tostring) end),
          ({bracketed: "a failing step", tool_bound: "the load tool (its core was busy)",
            maximum: "the maximum tried", first_failed: "the first step failing"}[.answer.stopped])]
        | "| " + join(" | ") + " |"' "$file"
  done
  echo
  for file in $(searches); do
    echo "- $(jq -r '"\(.technique) at \(.rate) msg/s: \(.answer.sentence)"' "$file")"
  done
} > "$OUT/capacity.md"
cat "$OUT/capacity.md"
echo "written: $OUT/"
