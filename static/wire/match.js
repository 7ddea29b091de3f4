// Which of the server's recorded exchanges is the arrow a student clicked.
//
// The lane drew its exchange when the request left and when the answer came
// back (timeline.js keeps both times, on this browser's clock); the server
// recorded when the request's head arrived and when its answer's head was
// written, on its own clock. With the offset between the two clocks
// (clock.js) both pairs are on one time line, and the server's pair sits
// just inside the browser's: a request arrives a moment after it left, its
// answer leaves a moment before it arrives. A lane sends one request at a
// time, so the exchange whose two times lie closest to the arrow's two is
// the one — even for long-polls answered one after another within
// milliseconds, where the times of a neighbour are a whole exchange away on
// one end or the other. The two clocks' offset is known only to a few ms
// (more on a busy machine), so what the exchange said must also agree: the
// cursor it asked from (`since=` in its request line, when the lane said
// which) and the number of messages its answer carried. A stream is
// matched by its opening alone.

import { bodyText, decode, text } from "./bytes.js";

// Farther than this from every recorded exchange (ms), the arrow's was not
// recorded: it happened before the wire view was open, or fell out of the
// last 20.
const FAR_MS = 1500;

// The server's µs timestamp on this page's performance.now() clock.
export function pageTime(serverUs, clock) {
  return (serverUs - clock.offsetUs) / 1000 - performance.timeOrigin;
}

// `drawn` is the timeline's record of the exchange ({technique, sentAt,
// answeredAt, stream}); `exchanges` the server's list. Returns the server's
// exchange, or null when none was recorded for it.
export function findExchange(drawn, exchanges, clock) {
  let best = null;
  let bestCost = Infinity;
  for (const exchange of exchanges) {
    if (exchange.technique !== drawn.technique) continue;
    const cost = distance(drawn, exchange, clock);
    if (cost < bestCost) {
      best = exchange;
      bestCost = cost;
    }
  }
  return bestCost <= FAR_MS ? best : null;
}

function distance(drawn, exchange, clock) {
  const started = pageTime(exchange.started_at_us, clock);
  const opening = Math.abs(started - drawn.sentAt);
  if (drawn.stream) return opening;
  // An answer the page drew was written by the server before: an exchange
  // still unanswered there is a later one.
  if (drawn.answeredAt !== null && exchange.answered_at_us === null) return Infinity;
  if (drawn.answeredAt === null || exchange.answered_at_us === null) return opening;
  // A request may wait in the browser's queue before it leaves, so its
  // head may reach the server long after the arrow was drawn — never
  // before. Its answer is drawn as it arrives.
  const answered = pageTime(exchange.answered_at_us, clock);
  const early = Math.max(0, drawn.sentAt - pageTime(exchange.started_at_us, clock));
  const cost = Math.max(early, Math.abs(answered - drawn.answeredAt));
  const sameCount = drawn.count === undefined || drawn.count === messagesIn(exchange);
  const sameCursor = drawn.since === undefined || String(drawn.since) === String(sinceIn(exchange));
  return sameCount && sameCursor ? cost : cost + FAR_MS;
}

// The `since=` of an exchange's request target, or null without one. The
// target is in the request line over HTTP/1.1, and in the `:path` field of
// an HTTP/2 head (the server logs its fields one a line, pseudo-headers
// first).
function sinceIn(exchange) {
  const lines = text(decode(exchange.request_head)).split("\r\n");
  const target = lines.find((line) => line.startsWith(":path: ")) ?? lines[0];
  return target.match(/[?&]since=(\d+)/)?.[1] ?? null;
}

// How many messages a poll's or long-poll's answer carried, or undefined.
function messagesIn(exchange) {
  try {
    return JSON.parse(bodyText(exchange, "out")).messages?.length;
  } catch {
    return undefined;
  }
}
