#!/usr/bin/env bash
# pushlab's WebSocket fan-out side by side with the reference servers, in
# interleaved rounds: the bare actix-web + actix-ws broadcast server (the
# floor pushlab stands on) and Nchan, measured by the peers kit's own load
# client (`run.sh fanout`, see the kit's README). Only ratios within one run
# carry over: this machine's speed drifts from day to day.
#
#   scripts/peers.sh PEERS_DIR [OUT]    PEERS_DIR: the peers kit (copied, so
#                                       a read-only one will do); OUT:
#                                       results/peers by default
#   ROUNDS=3 RATES="300 800" SERVERS="actix-bcast nchan pushlab" scripts/peers.sh …
#   TEN_K=0 scripts/peers.sh …          without the 10,000-subscriber step
#   SERVERS="nchan pushlab pushlab-delay-10ms" …   pushlab-delay-D: pushlab with
#                                       --ws-write-delay D (fewer, larger writes)
#
# Per round and server (a fresh server pinned to core 0, the client on core 1):
#   fanout-1000   1,000 WebSocket subscribers, each rate for 10 s
#   fanout-10000  10,000 subscribers at 20 msg/s
# Frames of the same size: pushlab wraps a 64-byte text in its 125-byte JSON
# frame, so the others get 125 bytes (SIZE). Writes OUT/round-N/*.jsonl and
# OUT/summary.md: per server the medians over rounds of deliveries per
# second, deliveries per server CPU-second, p99 and the share delivered,
# and each one's ratio to the floor's and Nchan's.
#
# Needs nginx with libnginx-mod-nchan for the Nchan rounds (apt-get install
# nginx libnginx-mod-nchan); without it, leave nchan out of SERVERS.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS_SRC=${1:?usage: scripts/peers.sh PEERS_DIR [OUT]}
OUT=${2:-results/peers}
ROUNDS=${ROUNDS:-3}
RATES=${RATES:-"300 800"}
SERVERS=${SERVERS:-"actix-bcast nchan pushlab"}
TEN_K=${TEN_K:-1}

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$PEERS_SRC"/. "$work/peers"
rm -rf "$work/peers/results" "$work/peers/target"
(cd "$work/peers" && cargo build --release --quiet) # its client and the floor
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# pushlab as the kit's "own server": publishing unlimited, generator off.
pushlab="$PWD/target/release/pushlab serve --addr 127.0.0.1:8090 --rate 0 --publish-rate 0"
export PEER_PORT=8090 PEER_PUB=/api/messages PEER_JSON=1 PEER_SUB=/ws

for round in $(seq "$ROUNDS"); do
  for server in $SERVERS; do
    size=125
    case $server in
      pushlab) size=64 PEER_CMD=$pushlab ;;
      pushlab-delay-*) size=64 PEER_CMD="$pushlab --ws-write-delay ${server#pushlab-delay-}" ;;
    esac
    export PEER_CMD
    RES="$OUT/round-$round" SIZE=$size "$work/peers/run.sh" fanout "$server" 1000 "$RATES"
    if [ "$TEN_K" = 1 ]; then
      RES="$OUT/round-$round" SIZE=$size "$work/peers/run.sh" fanout "$server" 10000 20
    fi
  done
done

python3 - "$OUT" "$SERVERS" <<'PY'
import json, pathlib, statistics, sys
out, servers = pathlib.Path(sys.argv[1]), sys.argv[2].split()
rows = {}  # (server, subscribers, rate) -> [step, ...], one per round
for path in sorted(out.glob("round-*/*-fanout-*.jsonl")):
    for line in path.read_text().splitlines():
        step = json.loads(line)
        rows.setdefault((step["server"], step["conns"], step["rate"]), []).append(step)

def median(steps, key):
    values = [s[key] for s in steps if s.get(key) is not None]
    return statistics.median(values) if values else None

lines = [
    "# WebSocket fan-out, pushlab beside the floor and Nchan",
    "",
    "Made by `scripts/peers.sh`: medians over interleaved rounds (one step per",
    "round), server on core 0, the kit's client on core 1; frames of 125 bytes.",
    "",
    "| subscribers | msg/s | server | rounds | deliveries/s | deliveries per CPU-s | p99 ms | delivered | ÷ floor (CPU-s) | ÷ Nchan (CPU-s) | ÷ floor (p99) |",
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for subs, rate in sorted({(k[1], k[2]) for k in rows}):
    medians = {}
    for server in servers:
        steps = rows.get((server, subs, rate), [])
        if steps:
            medians[server] = {key: median(steps, key) for key in
                               ("deliveries_per_s", "deliveries_per_cpu_s", "p99_ms", "delivered_frac")}
            medians[server]["rounds"] = len(steps)
    def ratio(server, other, key):
        a, b = medians.get(server, {}).get(key), medians.get(other, {}).get(key)
        return f"{a / b:.2f}×" if a and b else "–"
    for server, m in medians.items():
        lines.append(
            f"| {subs:,} | {rate:g} | {server} | {m['rounds']} | {m['deliveries_per_s']:,.0f} | "
            f"{m['deliveries_per_cpu_s'] or 0:,.0f} | {m['p99_ms']:.1f} | {100 * m['delivered_frac']:.1f} % | "
            f"{ratio(server, 'actix-bcast', 'deliveries_per_cpu_s')} | {ratio(server, 'nchan', 'deliveries_per_cpu_s')} | "
            f"{ratio(server, 'actix-bcast', 'p99_ms')} |"
        )
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
