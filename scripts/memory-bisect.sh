#!/usr/bin/env bash
# Which commit made idle clients cost more memory: a step for `git bisect
# run`. It builds the commit it is run on (release, its own target
# directory) and measures one technique's server memory per idle client at
# 10,000 clients (`pushlab load --spawn --rate 0`, server on core 0); a
# figure over THRESHOLD KB marks the commit bad. The figure is steady to a
# few bytes from run to run, so one run per commit tells.
#
#   git worktree add ../bisect HEAD && cd ../bisect
#   git bisect start BAD GOOD
#   TECHNIQUE=longpoll THRESHOLD=6.2 git bisect run "$PWD/scripts/memory-bisect.sh"
#
# Copy the script out of the worktree first if it is newer than GOOD. Each
# commit's figure is appended to $LOG (memory-bisect.log in the worktree).
set -u
TECHNIQUE=${TECHNIQUE:-sse}
THRESHOLD=${THRESHOLD:?THRESHOLD=KB per client above which a commit is bad}
LOG=${LOG:-$PWD/memory-bisect.log}
TARGET=${CARGO_TARGET_DIR:-$PWD/target-bisect}
commit=$(git rev-parse --short HEAD)
if ! CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin pushlab; then
  echo "$commit build failed" >>"$LOG"
  exit 125 # skip: neither good nor bad
fi
json=$(mktemp)
trap 'rm -f "$json"' EXIT
taskset -c 1 "$TARGET/release/pushlab" load --spawn --server-cores 0 --technique "$TECHNIQUE" \
  --clients 10000 --rate 0 --json "$json" >/dev/null 2>&1 || exit 125
kb=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['techniques'][sys.argv[2]]['server_kb_per_client'])" "$json" "$TECHNIQUE")
echo "$commit $TECHNIQUE $kb" >>"$LOG"
python3 -c "import sys; sys.exit(1 if float(sys.argv[1]) > float(sys.argv[2]) else 0)" "$kb" "$THRESHOLD"
