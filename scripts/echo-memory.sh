#!/usr/bin/env bash
# Server memory under clients that stop reading on /ws/echo, and after they
# leave: results/figures/echo-memory.txt.
#
# Ten clients each open /ws/echo, send 32 binary messages of 1 MiB and never
# read the echoes. The release server's resident memory (VmRSS) is sampled
# before, throughout (the peak), and for 30 s after the clients have closed
# their sockets. Run twice: as shipped (jemalloc purging in a background
# thread, see src/main.rs) and with that thread off
# (_RJEM_MALLOC_CONF=background_thread:false), to show what it changes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=results/figures/echo-memory.txt
cargo build --release --quiet

python3 - "$OUT" <<'PY'
import json, os, re, socket, subprocess, sys, threading, time, urllib.request

CLIENTS, MESSAGES, SIZE = 10, 32, 1 << 20
MiB = 1 << 20

def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024

def stats(addr):
    with urllib.request.urlopen(f"http://{addr}/api/stats", timeout=5) as r:
        return json.load(r)["echo"]

def client(addr, opened):
    host, port = addr.split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    s.sendall(("GET /ws/echo HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % addr).encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    opened.append(s)
    # A zero masking key leaves the payload as it is.
    frame = bytes([0x82, 0x80 | 127]) + SIZE.to_bytes(8, "big") + bytes(4) + b"e" * SIZE
    for _ in range(MESSAGES):
        s.sendall(frame)  # never reads

def run(env_conf):
    env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")
    if env_conf is not None:
        env["_RJEM_MALLOC_CONF"] = env_conf
    server = subprocess.Popen(
        ["target/release/pushlab", "--addr", "127.0.0.1:0", "--rate", "0", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        for line in server.stdout:
            m = re.search(r"serving on http://(\S+)", line)
            if m:
                addr = m.group(1)
                break
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        time.sleep(0.5)
        before = rss(server.pid)
        opened = []
        writers = [threading.Thread(target=client, args=(addr, opened)) for _ in range(CLIENTS)]
        for w in writers:
            w.start()
        peak, deadline = before, time.time() + 60
        while time.time() < deadline:
            peak = max(peak, rss(server.pid))
            if stats(addr)["slow_consumers"] == CLIENTS and not any(w.is_alive() for w in writers):
                break
            time.sleep(0.02)
        cut = stats(addr)["slow_consumers"]
        for s in opened:
            s.close()
        left = time.time()
        back, after = None, rss(server.pid)
        while time.time() - left < 30:
            after = rss(server.pid)
            if back is None and after <= before + 8 * MiB:
                back = time.time() - left
            time.sleep(0.1)
        return before, peak, cut, after, back
    finally:
        server.kill()
        server.wait()

lines = [
    f"# /ws/echo: {CLIENTS} clients each send {MESSAGES} messages of 1 MiB and never read;"
    " release build, default flags (--echo-max-queued 2 MiB, --echo-max-message 1 MiB)",
]
for label, conf in [("as shipped (background purge)", None),
                    ("background_thread:false", "background_thread:false")]:
    before, peak, cut, after, back = run(conf)
    mib = lambda b: b / MiB
    lines += [
        f"{label}: before {mib(before):.1f} MiB resident",
        f"{label}: peak {mib(peak):.1f} MiB, +{mib(peak - before):.1f} MiB for {CLIENTS} clients, "
        f"{mib(peak - before) / CLIENTS:.2f} MiB per client",
        f"{label}: {cut} of {CLIENTS} clients closed as slow consumers (1008)",
        f"{label}: 30 s after they left {mib(after):.1f} MiB, +{mib(after - before):.1f} MiB; "
        + (f"within 8 MiB of before after {back:.1f} s" if back is not None
           else "not within 8 MiB of before in 30 s"),
    ]
text = "\n".join(lines) + "\n"
open(sys.argv[1], "w").write(text)
print(text, end="")
PY
