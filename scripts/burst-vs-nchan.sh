#!/usr/bin/env bash
# The long-poll burst, pushlab against Nchan (the nginx module that serves
# the same techniques; Debian: apt-get install nginx-light libnginx-mod-nchan):
# 10,000 parked long-polls, one publish, the server's CPU time for the
# answers (scripts/burst_cpu.py). Both servers on core 0, the client on
# core 1, alternating for ROUNDS rounds. Writes
# results/figures/burst-vs-nchan.txt, and pushlab's own publish-to-last-
# answer time from its /api/stats.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-4}
OUT=results/figures/burst-vs-nchan.txt
cargo build --release --quiet
dir=$(mktemp -d)
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
NCHAN_PORT=$(free_port)
PUSHLAB_PORT=$(free_port)
cat > "$dir/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 30000; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  server {
    listen 127.0.0.1:$NCHAN_PORT backlog=4096;
    location = /sub { nchan_subscriber longpoll; nchan_channel_id burst; nchan_subscriber_first_message newest; }
    location = /pub { nchan_publisher; nchan_channel_id burst; }
  }
}
CONF
taskset -c 0 nginx -c "$dir/nginx.conf" &
nginx_master=$!
RUST_LOG=warn taskset -c 0 target/release/pushlab serve --addr "127.0.0.1:$PUSHLAB_PORT" \
  --rate 0 --publish-rate 0 --workers 1 >/dev/null 2>&1 &
pushlab=$!
trap 'kill $nginx_master $pushlab 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1
nchan_worker=$(pgrep -P "$nginx_master" | head -1)
{
  echo "# scripts/burst-vs-nchan.sh on $(date -u +%Y-%m-%d): 10,000 parked long-polls, one publish"
  for _ in $(seq "$ROUNDS"); do
    taskset -c 1 python3 scripts/burst_cpu.py nchan "127.0.0.1:$NCHAN_PORT" "$nchan_worker" 10000
    taskset -c 1 python3 scripts/burst_cpu.py pushlab "127.0.0.1:$PUSHLAB_PORT" "$pushlab" 10000
  done
  curl -fs "http://127.0.0.1:$PUSHLAB_PORT/api/stats" | python3 -c '
import json, sys
l = json.load(sys.stdin)["techniques"]["longpoll"]["latency_ms"]
print("pushlab, publish to the last answer handed over (its /api/stats, all rounds):",
      "max", l["max"], "ms, p50", l["p50"], "ms")'
} | tee "$OUT"
