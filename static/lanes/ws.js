// WebSocket: one GET /ws that the server upgrades (101 Switching
// Protocols); from then on the socket carries frames both ways. The server
// sends {"type":"hello"}, one {"type":"message",…} frame per message and
// {"type":"gap"} when we missed some.
//
// The browser never reconnects a WebSocket by itself: when the socket
// closes, this client comes back with backoff, jitter and `?since=<cursor>`,
// like the other lanes.

import { Backoff } from "./backoff.js";
import { Cursor } from "./cursor.js";

export async function run(lane) {
  const cursor = new Cursor();
  const backoff = new Backoff();
  for (;;) {
    await lane.running();
    const request = lane.asked();
    const ended = await listen(lane, request, cursor, backoff);
    lane.closed(request, ended);
    if (ended === "error") await lane.retryAfter(backoff);
  }
}

// One socket, until it closes ("error") or the lane is paused ("paused").
function listen(lane, request, cursor, backoff) {
  const signal = lane.signal; // this connection's; a resume makes a new one
  return new Promise((resolve) => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws?${cursor.query()}`);
    let done = false;
    const end = (why) => {
      if (done) return;
      done = true;
      socket.close(1000);
      signal.removeEventListener("abort", paused);
      resolve(why);
    };
    const paused = () => end("paused");
    signal.addEventListener("abort", paused);

    socket.addEventListener("open", () => {
      lane.opened(request, "101 Switching");
      backoff.reset();
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "hello") cursor.hello(frame);
      if (frame.type === "gap") {
        cursor.gap(frame);
        lane.gap(frame);
      }
      if (frame.type === "message") {
        cursor.seen(frame.id);
        lane.received(frame);
      }
    });
    socket.addEventListener("close", () => end("error"));
  });
}
