"""Server CPU per answer when one publish wakes N parked long-polls.

Parks N long-poll requests on a server, publishes once, waits until every
client has its answer, and reports the server's CPU time (from
/proc/PID/task/*/schedstat) spent between the publish and the last answer:
the cost of the burst itself, whatever the speed of this (slow, Python)
client. The clients do not ask again, so only answers are counted. It
speaks to pushlab (GET /api/longpoll, POST /api/messages) and to Nchan
(GET /sub, POST /pub), so the two can be compared on the same machine on
the same day; scripts/burst-vs-nchan.sh runs it.

usage: burst_cpu.py pushlab|nchan HOST:PORT SERVER_PID N
"""
import asyncio, os, sys, time, resource

kind, addr, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host, port = addr.split(":")
port = int(port)
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
SUB = {"pushlab": "/api/longpoll?timeout=60", "nchan": "/sub"}[kind]


def cpu_s(pid):
    """CPU time of every thread of `pid`, in seconds (schedstat: nanoseconds)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        total += int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
    return total / 1e9


async def park(i):
    r, w = await asyncio.open_connection(host, port)
    w.write(f"GET {SUB} HTTP/1.1\r\nHost: {addr}\r\n\r\n".encode())
    await w.drain()
    return r, w


async def answer(r):
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await r.readexactly(length)
    return head.split(b" ")[1]


async def publish():
    r, w = await asyncio.open_connection(host, port)
    if kind == "pushlab":
        body = b'{"author":"burst","text":"wake up"}'
        req = (f"POST /api/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    else:
        body = b"wake up"
        req = f"POST /pub HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    w.write(req)
    await w.drain()
    await r.readuntil(b"\r\n\r\n")
    w.close()


async def main():
    conns = []
    for i in range(0, n, 500):
        conns += await asyncio.gather(*(park(j) for j in range(i, min(n, i + 500))))
    await asyncio.sleep(3)  # let every request reach the server and park
    before = cpu_s(pid)
    start = time.monotonic()
    await publish()
    statuses = await asyncio.gather(*(answer(r) for r, _ in conns))
    after = cpu_s(pid)
    ok = sum(1 for s in statuses if s == b"200")
    print(f"{kind}: {ok}/{n} answered 200; server CPU for the burst {1000*(after-before):.0f} ms "
          f"= {1e6*(after-before)/n:.1f} us per answer; client saw the last after {1000*(time.monotonic()-start):.0f} ms")
    for _, w in conns:
        w.close()

asyncio.run(main())
