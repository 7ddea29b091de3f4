#!/usr/bin/env bash
# Every Autobahn case against /ws/echo with each --ws-deflate policy, on a
# release build, one case at a time (kosoku gives each case 10 s, and the
# large compression cases send 64 or 128 MiB each way). `cargo test`
# (tests/conformance.rs) leaves out the large cases it names; this runs
# them too. Writes results/conformance/summary.md, with each run's slowest
# case (how close it came to kosoku's 10 s), and each run's index.json
# (kosoku's verdict and time per case).
#
#   scripts/conformance.sh            # about 25 minutes
#   scripts/conformance.sh on         # one run again: off, no-context-takeover or on
#
# Needs kosoku (pip install kosoku==0.1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=results/conformance
PORT=9471
mkdir -p "$OUT"
cargo build --release --quiet

run() { # name policy groups...
  local name=$1 policy=$2
  shift 2
  target/release/pushlab --addr "127.0.0.1:$PORT" --rate 0 --ws-deflate "$policy" \
    --echo-max-message 16777216 >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$PORT/api/stats" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local reports
  reports=$(mktemp -d)
  local args=()
  for group in "$@"; do args+=(--include "$group"); done
  kosoku "ws://127.0.0.1:$PORT/ws/echo" --parallelism 1 --outdir "$reports" "${args[@]}" >/dev/null || true
  kill "$server"
  wait "$server" 2>/dev/null || true
  mkdir -p "$OUT/$name"
  cp "$reports/index.json" "$OUT/$name/index.json"
  rm -rf "$reports"
}

runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(off no-context-takeover on)
for name in "${runs[@]}"; do
  case $name in
    off) run off off '1.*' '2.*' '3.*' '4.*' '5.*' '6.*' '7.*' '9.*' '10.*' '12.*' '13.*' ;;
    no-context-takeover | on) run "$name" "$name" '12.*' '13.*' ;;
    *) echo "no run named $name (off, no-context-takeover, on)" >&2; exit 2 ;;
  esac
done

python3 - "$OUT" <<'PY'
import collections, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
lines = [
    "# Autobahn cases against /ws/echo, per --ws-deflate policy",
    "",
    "Made by `scripts/conformance.sh` (release build, one case at a time).",
    "OK, NON-STRICT and INFORMATIONAL pass; UNIMPLEMENTED means the server",
    "declined compression (policy `off`), as it should.",
    "",
    "| run | groups | cases | verdicts | slowest case |",
    "|---|---|---|---|---|",
]
for name in ["off", "no-context-takeover", "on"]:
    index = json.loads((out / name / "index.json").read_text())
    cases = next(iter(index.values()))
    verdicts = collections.Counter(case["behavior"] for case in cases.values())
    groups = sorted({case_id.split(".")[0] for case_id in cases}, key=int)
    said = ", ".join(f"{verdict} {count}" for verdict, count in sorted(verdicts.items()))
    slowest = max(cases, key=lambda case_id: cases[case_id]["duration"])
    took = f"{slowest}, {cases[slowest]['duration'] / 1000:.1f} s"
    lines.append(f"| {name} | {', '.join(groups)} | {len(cases)} | {said} | {took} |")
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
