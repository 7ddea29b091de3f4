#!/usr/bin/env bash
# WebSocket compression: what permessage-deflate costs and saves, per
# `--ws-deflate` policy (off, on, no-context-takeover), measured with
# `pushlab load --spawn --deflate` (clients that offer permessage-deflate as
# Chromium does) on one release build. Server pinned to core 0, load tool to
# core 1, messages on a fixed schedule, as scripts/figures.sh does.
#
#   scripts/deflate.sh                    3 rounds, under 10 minutes on 2 cores
#   ROUNDS=5 RATE=30 scripts/deflate.sh   …
#   PER_CONNECTION=1 scripts/deflate.sh   and a fourth row (a build of its
#                                         own first: minutes more, see below)
#
# Per round, the three policies in a rotated order (so that a machine's
# drift hits all of them alike; only comparisons within one run carry over):
#   fanout-RATE    1,000 subscribers, RATE msg/s (default 50) for 10 s, the
#                  default message (pushlab's JSON frame, ~150 bytes): bytes
#                  per delivered message (chapter 6's: both directions, all
#                  of them), server CPU per delivery, latency; a rate the
#                  server keeps up with
#   fanout-STRESS  the same at STRESS msg/s (default 300), near what one
#                  server core delivers unbatched: what each policy does when
#                  the fan-out falls behind
#   idle-N         N idle clients that offered compression, N = 1,000 and
#                  10,000 (3,000 with `on`: ~320 KB each): server memory per
#                  connection, the slope between the two
#   plain-idle-N   with `off` only, clients that offer nothing: today's idle
#                  WebSocket figure, which must stay at or under 10 KB
# With PER_CONNECTION=1, a variant of this tree in which the shared compressor
# never finds a payload among those it compressed last
# (vendor/actix-http/src/ws/deflate.rs) runs the two fan-outs as the policy
# `no-context-takeover-per-connection`: no context takeover, but a broadcast
# compressed once per subscriber, as it would be without "compressed once".
# It is built in target/deflate-variant/, seeded with target/release.
# REV=<commit> measures that commit instead of the working tree, built apart in
# target/deflate/ (a checkout that others are editing may not build).
# Writes each run's JSON to results/deflate/runs/ (r<round>-<policy>-<run>)
# and the medians to results/deflate/deflate.md and deflate.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/deflate}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-50}
STRESS=${STRESS:-300}
POLICIES=(off on no-context-takeover)
REV=${REV:-}
mkdir -p "$OUT/runs"
rm -f "$OUT"/runs/*.json

snapshot() { # DIR: the source measured (REV's, or the working tree's) in DIR/src
  rm -rf "$1/src"
  mkdir -p "$1/src" "$1/target"
  if [ -n "$REV" ]; then
    git archive "$REV" | tar -xf - -C "$1/src"
  else
    git ls-files -z --cached --others --exclude-standard |
      tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$1/src"
  fi
  # Seeded with this checkout's build: only the crates from actix-http up are built again.
  if [ ! -d "$1/target/release" ] && [ -d target/release ]; then
    cp -a target/release "$1/target/"
  fi
}

build() { # DIR: builds DIR/src into DIR/target
  (cd "$1/src" && CARGO_TARGET_DIR=../target cargo build --release --quiet)
}

if [ -n "$REV" ]; then
  SOURCE=$(git rev-parse --short "$REV")
  snapshot target/deflate
  build target/deflate
  BIN=target/deflate/target/release/pushlab
else
  cargo build --release --quiet
  BIN=target/release/pushlab
  SOURCE=$(git describe --always --dirty)
fi
VARIANT=target/deflate-variant
if [ -n "${PER_CONNECTION:-}" ]; then
  # The shared compressor's recent payloads never looked up.
  snapshot "$VARIANT"
  codec=$VARIANT/src/vendor/actix-http/src/ws/deflate.rs
  sed -i 's/if let Some(recent) = seen {/if let Some(recent) = seen.filter(|_| false) {/' "$codec"
  if ! grep -q 'seen.filter(|_| false)' "$codec"; then
    echo "the variant's one-line change no longer applies to ${codec#"$VARIANT/src/"}" >&2
    exit 1
  fi
  build "$VARIANT"
  POLICIES+=(no-context-takeover-per-connection)
fi

load() { # NAME BINARY ARGS…: one `pushlab load --spawn` run of ws, its JSON in runs/NAME.json
  local name=$1 bin=$2
  shift 2
  echo "$(date -u +%H:%M:%S) $name" >&2
  if ! taskset -c 1 "$bin" load --spawn --server-cores 0 --arrivals fixed --technique ws \
    "$@" --json "$OUT/runs/$name.json" >/dev/null 2>&1; then
    echo "  failed: $name (left out of the medians)" >&2
  fi
}

measure() { # ROUND POLICY
  local round=$1 policy=$2 large=10000 bin=$BIN
  if [ "$policy" = no-context-takeover-per-connection ]; then
    local deflate=(--deflate --server-ws-deflate no-context-takeover)
    for rate in "$RATE" "$STRESS"; do
      load "r$round-$policy-fanout-$rate" "$VARIANT/target/release/pushlab" "${deflate[@]}" \
        --clients 1000 --rate "$rate" --duration 10s
    done
    return # its memory is no-context-takeover's: nothing kept per connection either way
  fi
  [ "$policy" = on ] && large=3000
  local deflate=(--deflate --server-ws-deflate "$policy")
  for rate in "$RATE" "$STRESS"; do
    load "r$round-$policy-fanout-$rate" "$bin" "${deflate[@]}" --clients 1000 --rate "$rate" --duration 10s
  done
  for n in 1000 "$large"; do
    load "r$round-$policy-idle-$n" "$bin" "${deflate[@]}" --clients "$n" --rate 0
  done
  if [ "$policy" = off ]; then
    for n in 1000 "$large"; do
      load "r$round-off-plain-idle-$n" "$bin" --server-ws-deflate off --clients "$n" --rate 0
    done
  fi
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
  for i in "${!POLICIES[@]}"; do
    measure "$round" "${POLICIES[$(((round - 1 + i) % ${#POLICIES[@]}))]}"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$OUT" "$RATE" "$STRESS" "$started" "$SOURCE" \
  "$load_before" "$load_after" "$(nproc)" <<'PY'
"""Medians per policy over the rounds, from the runs' JSON."""
import csv, glob, json, os, re, statistics, sys

out, rate, stress, started, build, load_before, load_after, cores = sys.argv[1:]
runs = {}  # (policy, run) -> [(round, ws report)]
for path in sorted(glob.glob(os.path.join(out, "runs", "*.json"))):
    m = re.match(r"r(\d+)-(off|on|no-context-takeover-per-connection|no-context-takeover)-(.+)\.json$",
                 os.path.basename(path))
    ws = json.load(open(path))["techniques"]["ws"]
    runs.setdefault((m[2], m[3]), []).append((int(m[1]), ws))

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def spread(values):
    values = [v for v in values if v is not None]
    return f"{min(values):.4g}–{max(values):.4g}" if values else "–"

def fanout(policy, at):
    """Per-run figures of one policy's fan-out at one rate."""
    rows = []
    for _, ws in runs.get((policy, f"fanout-{at}"), []):
        rows.append({
            "bytes": ws["bytes_per_message"],
            "us": ws["server_cpu_s"] / ws["delivered"] * 1e6 if ws["delivered"] else None,
            "tool_us": ws["tool_cpu_s"] / ws["delivered"] * 1e6 if ws["delivered"] else None,
            "p50": ws["latency_ms"]["p50"],
            "p99": ws["latency_ms"]["p99"],
            "lost": ws["lost"],
            "expected": ws["expected"],
            "answer": (ws.get("deflate") or {}).get("extension") or "(declined)",
        })
    return rows

def slope(policy, kind):
    """KB of server memory per idle connection, per round: the slope between
    the round's two idle runs."""
    by_round = {}
    for name in (kind + "-1000", kind + "-3000", kind + "-10000"):
        for rnd, ws in runs.get((policy, name), []):
            by_round.setdefault(rnd, []).append(ws)
    slopes = []
    for pair in by_round.values():
        if len(pair) == 2:
            small, large = sorted(pair, key=lambda ws: ws["clients"])
            slopes.append((large["server_rss_idle_kb"] - small["server_rss_idle_kb"])
                          / (large["clients"] - small["clients"]))
    large_n = max((ws["clients"] for pair in by_round.values() for ws in pair), default=0)
    return slopes, large_n

POLICIES = ["off", "on", "no-context-takeover"]
if any(policy.endswith("per-connection") for policy, _ in runs):
    POLICIES.append("no-context-takeover-per-connection")
rows = []
for policy in POLICIES:
    calm, hard = fanout(policy, rate), fanout(policy, stress)
    # The variant keeps nothing per connection either: no memory runs.
    slopes, large_n = slope(policy, "idle")
    rows.append({
        "policy": policy,
        "offer": "permessage-deflate; client_max_window_bits",
        "answer": calm[0]["answer"] if calm else "–",
        "bytes_per_message": median(r["bytes"] for r in calm),
        "server_us_per_delivery": median(r["us"] for r in calm),
        "tool_us_per_delivery": median(r["tool_us"] for r in calm),
        "p50_ms": median(r["p50"] for r in calm),
        "p99_ms": median(r["p99"] for r in calm),
        "lost": sum(r["lost"] for r in calm),
        "stress_server_us_per_delivery": median(r["us"] for r in hard),
        "stress_tool_us_per_delivery": median(r["tool_us"] for r in hard),
        "stress_p50_ms": median(r["p50"] for r in hard),
        "stress_p99_ms": median(r["p99"] for r in hard),
        "stress_lost": sum(r["lost"] for r in hard),
        "stress_expected": sum(r["expected"] for r in hard),
        "idle_kb_per_connection": median(slopes),
        "idle_range": f"1,000 → {large_n:,}" if slopes else "–",
        "rounds": len(calm),
        "_calm": calm, "_hard": hard, "_slopes": slopes,
    })
plain, plain_n = slope("off", "plain-idle")
rows.append({
    "policy": "off", "offer": "(none)", "answer": "–",
    "idle_kb_per_connection": median(plain), "idle_range": f"1,000 → {plain_n:,}",
    "rounds": len(plain), "_calm": [], "_hard": [], "_slopes": plain,
})

columns = ["policy", "offer", "answer", "bytes_per_message", "server_us_per_delivery",
           "tool_us_per_delivery", "p50_ms", "p99_ms", "lost", "stress_server_us_per_delivery",
           "stress_tool_us_per_delivery", "stress_p50_ms", "stress_p99_ms", "stress_lost",
           "stress_expected", "idle_kb_per_connection", "idle_range", "rounds"]
with open(os.path.join(out, "deflate.csv"), "w", newline="") as f:
    # Every field quoted: in `9000000,327.19` the comma would read as a
    # thousands separator to a reader of figures (tests/api/figures.rs).
    writer = csv.DictWriter(f, columns, extrasaction="ignore", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})

def fmt(value, digits=1):
    return "–" if value is None else f"{value:,.{digits}f}"

off_bytes = rows[0]["bytes_per_message"]
policy_rows = rows[:len(POLICIES)]
md = [
    "# WebSocket compression: what permessage-deflate costs and saves",
    "",
    f"`scripts/deflate.sh`, {started}, build `{build}`, {rows[0]['rounds']} interleaved rounds,",
    f"medians (the range over the rounds below). {cores} cores shared with other work: load",
    f"average {load_before} at the start, {load_after} at the end. **Absolute numbers are",
    "noisy** (server CPU and latency move with whatever else the machine runs); the rounds",
    "interleave the policies so that the comparison between them is fair. Server on core 0,",
    "`pushlab load` on core 1, clients offering `permessage-deflate; client_max_window_bits`",
    "as Chromium does. Bytes per message are chapter 6's: every byte on the wire both ways",
    "over the messages delivered (the frames, and the handshake, hello frame and pongs",
    "spread over them).",
    "",
    f"## 1,000 subscribers at {rate} msg/s, 10 s",
    "",
    "| `--ws-deflate` | the server's answer | bytes per message | vs off | server µs CPU per delivery | deliveries per CPU-s | tool µs CPU per delivery | p50 ms | p99 ms | lost |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for row in policy_rows:
    b, us = row["bytes_per_message"], row["server_us_per_delivery"]
    md.append(
        f"| `{row['policy']}` | `{row['answer']}` | {fmt(b)} | "
        f"{'–' if b is None or not off_bytes else f'{(b / off_bytes - 1) * 100:+.0f} %'} | "
        f"{fmt(us, 2)} | {'–' if not us else f'{1e6 / us:,.0f}'} | "
        f"{fmt(row['tool_us_per_delivery'], 2)} | {fmt(row['p50_ms'])} | "
        f"{fmt(row['p99_ms'])} | {row['lost']:,} |")
if len(POLICIES) == 4:
    once, each = policy_rows[2]["server_us_per_delivery"], policy_rows[3]["server_us_per_delivery"]
    md += [
        "",
        "`no-context-takeover-per-connection` is a variant build of the same tree whose shared",
        "compressor never finds a payload it compressed before (one line of",
        "`vendor/actix-http/src/ws/deflate.rs`): every subscriber's copy of a broadcast is",
        "compressed alone, with a compressor reset after each, as it would be without",
        "\"compressed once\".",
    ]
    if once and each:
        md.append(f"Compressing a broadcast once: {each:.2f} → {once:.2f} µs of server CPU per delivery "
                  f"({(once / each - 1) * 100:+.0f} %).")
md += [
    "",
    f"## 1,000 subscribers at {stress} msg/s, 10 s",
    "",
    "| `--ws-deflate` | server µs CPU per delivery | tool µs CPU per delivery | p50 ms | p99 ms | lost of expected |",
    "|---|---:|---:|---:|---:|---:|",
]
for row in policy_rows:
    md.append(
        f"| `{row['policy']}` | {fmt(row['stress_server_us_per_delivery'], 2)} | "
        f"{fmt(row['stress_tool_us_per_delivery'], 2)} | {fmt(row['stress_p50_ms'])} | {fmt(row['stress_p99_ms'])} | "
        f"{row['stress_lost']:,} of {row['stress_expected']:,} |")
md += [
    "",
    f"The load tool is one thread on one core: at {stress} msg/s to 1,000 subscribers it has",
    f"{1e6 / (float(stress) * 1000):.2f} µs per delivery in all. Where its CPU per delivery comes",
    "near that (it inflates every message, resetting its inflater after each when the server",
    "compresses them alone), the tool, not the server, sets the latency, and the server,",
    "writing to clients that read late, sends more frames per write.",
    "",
    "## Server memory per idle WebSocket",
    "",
    "| `--ws-deflate` | clients offer | KB per connection | slope over | per round |",
    "|---|---|---:|---|---|",
]
for row in (row for row in rows if row["_slopes"]):
    md.append(
        f"| `{row['policy']}` | `{row['offer']}` | {fmt(row['idle_kb_per_connection'], 2)} | "
        f"{row['idle_range']} | {', '.join(f'{s:.2f}' for s in row['_slopes'])} |")
md += [
    "",
    "## Ranges over the rounds",
    "",
    "| `--ws-deflate` | B/msg | µs/delivery | p50 ms | p99 ms | stress µs/delivery | stress p50 ms |",
    "|---|---|---|---|---|---|---|",
]
for row in policy_rows:
    c, h = row["_calm"], row["_hard"]
    md.append(
        f"| `{row['policy']}` | {spread(r['bytes'] for r in c)} | {spread(r['us'] for r in c)} | "
        f"{spread(r['p50'] for r in c)} | {spread(r['p99'] for r in c)} | "
        f"{spread(r['us'] for r in h)} | {spread(r['p50'] for r in h)} |")
md += [
    "",
    "Server CPU is the server process's user and system time from before the clients",
    "connect to the last delivery, over the messages delivered: it includes the 1,000",
    "handshakes (and with `on`, creating 1,000 compressors). At the higher rate it is lower",
    "per delivery because a busier server sends several frames per write. The memory slope is the",
    "difference in the idle server's resident memory between the two runs of a round,",
    "over the difference in connections. Each run's full report is in `runs/`.",
    "",
]
open(os.path.join(out, "deflate.md"), "w").write("\n".join(md))
print("\n".join(md))
PY
