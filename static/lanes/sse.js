// Server-Sent Events: one GET /api/sse whose response never ends; the
// server writes an event into it per message (`id:`, `event: message`,
// `data:`), `event: gap` when we missed some, and once, first, `retry:`.
// The browser's EventSource parses the stream.
//
// Reconnecting is the browser's job, as the SSE chapter teaches: when the
// stream breaks, EventSource waits the server's `retry:` delay and asks
// again by itself, sending `Last-Event-ID: <the last id it saw>`, and the
// server resumes from there. No code here does that; the lane only draws it
// (an error while the EventSource is CONNECTING is the browser retrying).
//
// EventSource gives up for good, though (readyState CLOSED), when an answer
// is not a stream: any status but 200 (pushlab's own 503 `server_full`
// when its SSE slots are taken, a proxy's 502), a Content-Type other than
// text/event-stream, or a 204, which a server sends to say "stop". Only
// then does this lane step in: it waits with its own backoff and jitter
// (backoff.js) and opens a new EventSource with `?since=<cursor>`. Pausing
// closes the EventSource; resuming opens one with `?since=<cursor>` too.
//
// A stream the lane opened with `?since=` keeps that URL, and the browser's
// own reconnects send it again beside `Last-Event-ID`. Should the server
// resend messages this lane already has, they are skipped and marked.
//
// The URL also names the run of the server (`epoch=`). When the stream says
// a new run began (a gap with `reset`: the server or its hub restarted),
// the lane reopens at once with the new run's epoch: left open, the stream
// would go on fine, but the browser's next reconnect would send the old
// epoch, and the server would start it over a second time.

import { Backoff } from "./backoff.js";
import { Cursor } from "./cursor.js";

export async function run(lane) {
  const cursor = new Cursor();
  const backoff = new Backoff();
  for (;;) {
    await lane.running();
    const ended = await listen(lane, cursor, backoff);
    if (ended === "gave up") await lane.retryAfter(backoff);
    // "new run": reopen at once, with the new epoch.
  }
}

// One EventSource, through every reconnect the browser makes by itself,
// until the lane is paused ("paused"), the browser gives up ("gave up"), or
// the server starts a new run ("new run").
function listen(lane, cursor, backoff) {
  const signal = lane.signal; // this connection's; a resume makes a new one
  return new Promise((resolve) => {
    const url = `/api/sse?${cursor.query()}`;
    const source = new EventSource(url);
    // The request on the timeline; null while the browser waits to retry.
    let request = lane.asked(cursor.next);
    let streaming = false;
    let resent = 0;
    // The `id:` of the last event, as EventSource keeps it for its
    // Last-Event-ID header (the event carries it; EventSource does not show it).
    let lastEventId = "";

    const end = (why) => {
      source.close();
      signal.removeEventListener("abort", paused);
      resolve(why);
    };
    const paused = () => {
      if (request) lane.closed(request, "paused");
      end("paused");
    };
    signal.addEventListener("abort", paused);

    source.addEventListener("open", () => {
      request ??= lane.asked(lastEventId || null); // a browser reconnect: its request just went out
      lane.opened(request, streaming ? "200 · resumed" : "200 event-stream");
      streaming = true;
      resent = 0;
      backoff.reset();
    });
    source.addEventListener("hello", (event) => {
      // The hello carries the starting cursor as its id, so even a stream
      // that breaks before its first message reconnects with Last-Event-ID.
      lastEventId = event.lastEventId;
      cursor.hello(JSON.parse(event.data));
    });
    source.addEventListener("gap", (event) => {
      const gap = JSON.parse(event.data);
      cursor.gap(gap);
      lane.gap(gap);
      if (gap.reset && request) {
        lane.reopening(request);
        end("new run");
      }
    });
    source.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      lastEventId = event.lastEventId;
      if (cursor.next !== null && message.id <= cursor.next) {
        if (resent++ === 0) lane.resent(message.id);
        return;
      }
      cursor.seen(message.id);
      lane.received(message);
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) {
        // The stream broke (or a retry found no server): the browser will
        // try again by itself after `retry:`, sending Last-Event-ID.
        lane.browserRetries(request, lastEventId);
        request = null;
        return;
      }
      // CLOSED: the answer was not a stream, and the browser stopped.
      // EventSource does not say what came back; a 503 is the usual reason.
      lane.refused(request ?? lane.asked(), "not 200 event-stream");
      end("gave up");
    });
  });
}
