// WebSocket: one GET /ws that the server upgrades (101 Switching
// Protocols); from then on the socket carries frames both ways. The server
// sends {"type":"hello"}, one {"type":"message",…} frame per message and
// {"type":"gap"} when we missed some. The page's publish box can send a
// message up this same socket ("send over: the WebSocket"): a
// {"type":"publish","author":…,"text":…} text frame, masked as every frame
// from a browser is, which the server answers on the socket with
// {"type":"published","id":…} or {"type":"error",…}, in order.
//
// The socket asks for the subprotocol pushlab.v1, the name of these JSON
// frames, and the server's 101 names it back (`socket.protocol`). The
// browser also offers compression (permessage-deflate) on its own; the
// hello frame says what it offered and what the server accepted, and the
// lane shows both, and — when messages come compressed — what each would
// have cost uncompressed (static/deflate.js).
//
// The browser never reconnects a WebSocket by itself: when the socket
// closes, this client comes back with backoff, jitter and `?since=<cursor>`,
// like the other lanes. The close event's code says how it ended: 1000 and
// up from a close frame, 1006 when the connection just ended without one
// (a network that failed, or a server that hung up).

import { Backoff } from "./backoff.js";
import { Cursor } from "./cursor.js";
import { uncompressedFrameBytes } from "../deflate.js";

// The name of /ws's JSON frames (DESIGN.md; the server's `SUBPROTOCOL`).
export const SUBPROTOCOL = "pushlab.v1";

export async function run(lane) {
  const cursor = new Cursor();
  const backoff = new Backoff();
  for (;;) {
    await lane.running();
    const request = lane.asked(cursor.next);
    const { why, code } = await listen(lane, request, cursor, backoff);
    lane.closed(request, why, code);
    if (why === "error") await lane.retryAfter(backoff);
  }
}

// One socket, until it closes ("error", with its close code) or the lane
// is paused ("paused").
function listen(lane, request, cursor, backoff) {
  const signal = lane.signal; // this connection's; a resume makes a new one
  return new Promise((resolve) => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws?${cursor.query()}`, SUBPROTOCOL);
    const uplink = new Uplink(socket, lane);
    let done = false;
    const end = (why, code) => {
      if (done) return;
      done = true;
      lane.uplink = null;
      uplink.closed();
      socket.close(1000);
      signal.removeEventListener("abort", paused);
      resolve({ why, code });
    };
    const paused = () => end("paused");
    signal.addEventListener("abort", paused);

    socket.addEventListener("open", () => {
      lane.opened(request, "101 Switching");
      lane.uplink = uplink;
      backoff.reset();
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "published" || frame.type === "error") uplink.answered(frame);
      if (frame.type === "hello") {
        cursor.hello(frame);
        lane.negotiated({ offered: frame.offered, accepted: frame.accepted, extensions: socket.extensions, protocol: socket.protocol });
      }
      if (frame.type === "gap") {
        cursor.gap(frame);
        lane.gap(frame);
      }
      if (frame.type === "message") {
        cursor.seen(frame.id);
        lane.received(frame);
        lane.plainSize(uncompressedFrameBytes(event.data));
      }
    });
    socket.addEventListener("close", (event) => end("error", event.code));
  });
}

// Publishing up the socket. The server answers each publish frame with one
// frame, in the order they came, so the answers are matched first in, first
// out.
class Uplink {
  constructor(socket, lane) {
    this.socket = socket;
    this.lane = lane;
    this.waiting = [];
  }

  // Resolves with the new message's id; rejects with the server's message.
  publish(author, text) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.send(JSON.stringify({ type: "publish", author, text }));
      this.lane.sentUp("publish ↑");
    });
  }

  answered(frame) {
    const waiter = this.waiting.shift();
    if (frame.type === "published") {
      this.lane.answeredUp(`published #${frame.id}`);
      waiter?.resolve(frame.id);
    } else {
      this.lane.answeredUp(frame.error, true);
      waiter?.reject(new Error(frame.message));
    }
  }

  // The socket is gone: publishes still waiting will get no answer.
  closed() {
    for (const waiter of this.waiting.splice(0)) {
      waiter.reject(new Error("the WebSocket closed before the server answered"));
    }
  }
}
