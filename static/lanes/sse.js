// Server-Sent Events: one GET /api/sse whose response never ends; the
// server writes an event into it per message (`event: message`, `id:`,
// `data:`), and `event: gap` when we missed some. The browser's EventSource
// parses the stream.
//
// EventSource would reconnect by itself, but without jitter and without a
// visible trace; this client closes it on an error and comes back with its
// own backoff and `?since=<cursor>`, so all four lanes recover alike.

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

// One stream, until it breaks ("error") or the lane is paused ("paused").
function listen(lane, request, cursor, backoff) {
  const signal = lane.signal; // this connection's; a resume makes a new one
  return new Promise((resolve) => {
    const source = new EventSource(`/api/sse?${cursor.query()}`);
    const end = (why) => {
      source.close();
      signal.removeEventListener("abort", paused);
      resolve(why);
    };
    const paused = () => end("paused");
    signal.addEventListener("abort", paused);

    source.addEventListener("open", () => {
      lane.opened(request, "200 event-stream");
      backoff.reset();
    });
    source.addEventListener("hello", (event) => cursor.hello(JSON.parse(event.data)));
    source.addEventListener("gap", (event) => {
      const gap = JSON.parse(event.data);
      cursor.gap(gap);
      lane.gap(gap);
    });
    source.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      cursor.seen(message.id);
      lane.received(message);
    });
    source.addEventListener("error", () => end("error"));
  });
}
