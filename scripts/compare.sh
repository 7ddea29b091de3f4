#!/usr/bin/env bash
# The standard comparison: 10, 100, 1,000 and 10,000 clients x the four
# techniques, 1 message/s, short polls every 1 s. Each technique gets a fresh
# server pinned to core 0; the load tool runs on core 1. Results go to
# results/compare/: JSON, CSV, SVG and a Markdown table per client count, and
# results/compare/README.md with all the tables.
#
#   scripts/compare.sh                 # the full matrix (about 10 minutes)
#   CLIENTS="10 100" scripts/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-"10 100 1000 10000"}
DURATION=${DURATION:-20s}
OUT=results/compare
mkdir -p "$OUT"

cargo build --release --quiet
bin=target/release/pushlab
cores=$(nproc)
server_core=0
tool_core=$(( cores > 1 ? 1 : 0 ))

summary="$OUT/README.md"
{
  echo "# pushlab: the four techniques compared"
  echo
  echo "Produced by \`scripts/compare.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores"
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), loopback."
  echo "Server pinned to core $server_core, load tool to core $tool_core; 1 message/s,"
  echo "64-byte text, short polls every 1 s, long-poll timeout 25 s, $DURATION of publishing."
  echo
} > "$summary"

for n in $CLIENTS; do
  echo "== $n clients"
  taskset -c "$tool_core" "$bin" load --spawn --server-cores "$server_core" \
    --technique all --clients "$n" --rate 1 --arrivals fixed --poll-interval 1s --duration "$DURATION" \
    --payload 64 --json "$OUT/clients-$n.json" --csv "$OUT/clients-$n.csv" \
    --svg "$OUT/clients-$n.svg" --markdown "$OUT/clients-$n.md" | tee "$OUT/clients-$n.txt"
  {
    echo "## $n clients"
    echo
    cat "$OUT/clients-$n.md"
    echo
    echo "![latency and bytes, $n clients](clients-$n.svg)"
    echo
  } >> "$summary"
done
echo "written: $summary"
