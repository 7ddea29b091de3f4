// The requests of this page that the browser has not answered yet, and
// which of them wait in its queue for a connection.
//
// Over HTTP/1.1 a browser opens at most six connections to one server
// (WebSockets have a pool of their own). A request that finds all six busy
// waits inside the browser, unsent, until one frees up — no event, no
// error: fetch() just has no answer yet. DevTools calls it "Stalled"; a
// page sees nothing unless it keeps count. So every fetch() and EventSource
// of this page to its own server is noted here, from the moment it is made
// until its answer (for a stream: its opening) arrives. A request is judged
// waiting when the page can tell it never reached the server:
//   - one the server answers at once (a poll, the figures, the clock) has
//     had no answer for a second while all six connections are held;
//   - a long-poll, which the server may rightly hold for its whole timeout:
//     a stream of this tab has received a newer message than it asked for,
//     a second ago or more (a parked long-poll would have been answered
//     with it), or it has been out longer than its timeout, or every one of
//     the six is held by a stream;
//   - a stream not open after a second while all six are held.
// How many of the six are held comes from every tab of the page (tabs.js).
// Once a request has finished, the browser's own timing of it (timing.js)
// says how long it really waited.
//
// Lanes and drawings ask: waiting(kind) for the request waiting now,
// lastWait(kind) for the latest finished one that waited.

import { onFinished, waitedMs } from "./timing.js";

export const CONNECTIONS_PER_ORIGIN = 6;
// An answer the server gives at once takes milliseconds; none after this
// long, with every connection held, means the request was never sent.
const WAITING_AFTER_MS = 1000;
// A finished request that waited at least this long is worth showing.
const NOTABLE_WAIT_MS = 200;
// A stream message this soon after a long-poll went out may have been
// published before the server had the long-poll (used when it asked "from
// now on", without an id to compare).
const SAME_TIME_MS = 200;

// Which part of the page a request to this path belongs to.
const KINDS = {
  "/api/poll": "poll",
  "/api/longpoll": "longpoll",
  "/api/sse": "sse",
  "/api/stats": "stats",
  "/api/time": "clock",
  "/api/messages": "publish",
};

// Requests without an answer yet: { kind, since, state ("asked" | "open"),
// source (streams), since_id and timeoutMs (long-polls), newerAt }.
const pending = new Set();
// The request of each tracked EventSource.
const streamRequests = new WeakMap();
// Streams opened on purpose to fill the six (fill.js), not by a lane.
const extras = new WeakSet();
// The latest finished request per kind that waited: { ms, at }.
const lastWaits = {};
// What every tab of the page holds, as tabs.js last counted it.
let browser = { held: 0, streams: 0 };
let installed = false;

// Starts noting every request of the page. Call it before the page makes
// any: requests made earlier are not seen.
export function install() {
  if (installed) return;
  installed = true;
  wrapFetch();
  wrapEventSource();
  onFinished((entry) => {
    const kind = kindOf(entry.name);
    const ms = kind && waitedMs(entry);
    if (ms >= NOTABLE_WAIT_MS) lastWaits[kind] = { ms, at: performance.now() };
  });
}

// tabs.js: how many of the six all tabs together hold, and how many of
// those are streams.
export function setBrowser(held, streams) {
  browser = { held, streams };
}

// What this tab holds: open streams (and how many of them were opened to
// fill the six), long-polls parked at the server, and requests waiting.
export function mine() {
  const now = performance.now();
  let streams = 0;
  let extraStreams = 0;
  let parked = 0;
  let waiting = 0;
  for (const request of pending) {
    if (request.state === "open") {
      streams += 1;
      if (extras.has(request.source)) extraStreams += 1;
    } else if (isWaiting(request, now)) waiting += 1;
    else if (request.kind === "longpoll") parked += 1;
  }
  return { streams, extraStreams, parked, waiting };
}

// The oldest request of `kind` ("poll", "longpoll", "sse", "stats",
// "clock", "publish") waiting in the browser's queue now, as
// { kind, url, ms } (how long it has waited so far), or null. Streams
// opened to fill the six are not a lane's: fill.js shows those.
export function waiting(kind) {
  const now = performance.now();
  let oldest = null;
  for (const request of pending) {
    if (request.kind !== kind || extras.has(request.source) || !isWaiting(request, now)) continue;
    if (!oldest || request.since < oldest.since) oldest = request;
  }
  return oldest && { kind, url: oldest.url, ms: now - oldest.since };
}

// The latest finished request of `kind` that waited in the browser before
// it was sent, per Resource Timing: { ms waited, at: performance.now() when
// it finished }, or null.
export function lastWait(kind) {
  return lastWaits[kind] ?? null;
}

// Whether the EventSource `source` (tracked) waits in the browser's queue.
export function streamWaiting(source) {
  const request = streamRequests.get(source);
  return Boolean(request && pending.has(request) && isWaiting(request, performance.now()));
}

// Marks `source` as opened to fill the six, not by a lane.
export function markExtra(source) {
  extras.add(source);
}

// ---- judging ----

function isWaiting(request, now) {
  if (request.state === "open" || now - request.since < WAITING_AFTER_MS) return false;
  if (browser.streams >= CONNECTIONS_PER_ORIGIN) return true;
  if (request.kind !== "longpoll") return browser.held >= CONNECTIONS_PER_ORIGIN;
  const missedNews = request.newerAt !== undefined && now - request.newerAt >= WAITING_AFTER_MS;
  const outTooLong = now - request.since > request.timeoutMs + WAITING_AFTER_MS;
  return missedNews || outTooLong;
}

// A stream of this tab received message `id`: a long-poll that asked for
// what came before it, and is parked at the server, is being answered now.
function streamMessage(id) {
  const now = performance.now();
  for (const request of pending) {
    if (request.kind !== "longpoll" || request.newerAt !== undefined) continue;
    const newer = request.sinceId === null ? now - request.since > SAME_TIME_MS : id > request.sinceId;
    if (newer) request.newerAt = now;
  }
}

// ---- noting ----

function kindOf(url) {
  let parsed;
  try {
    parsed = new URL(url, location.href);
  } catch {
    return null;
  }
  return parsed.origin === location.origin ? (KINDS[parsed.pathname] ?? "other") : null;
}

// A request for `url` was made; returns its record, or null if it goes to
// another server (whose six connections are its own).
function note(url, source = null) {
  const kind = kindOf(url);
  if (!kind) return null;
  const request = { kind, url: String(url), since: performance.now(), state: "asked", source };
  if (kind === "longpoll") {
    const query = new URL(url, location.href).searchParams;
    request.sinceId = query.has("since") ? Number(query.get("since")) : null;
    // Absent, the server's default: at most a minute or so.
    request.timeoutMs = 1000 * Number(query.get("timeout") ?? 60);
  }
  pending.add(request);
  return request;
}

function settle(request) {
  pending.delete(request);
}

// Every fetch() of the page passes through here.
function wrapFetch() {
  const nativeFetch = window.fetch;
  window.fetch = function fetch(input, init) {
    const answer = nativeFetch.call(window, input, init);
    const request = note(input instanceof Request ? input.url : input);
    if (request) {
      const done = () => settle(request);
      answer.then(done, done);
    }
    return answer;
  };
}

// Every EventSource of the page is one of these: pending until it opens,
// open (holding a connection) until it closes, and pending again while the
// browser reconnects it by itself.
function wrapEventSource() {
  const NativeEventSource = window.EventSource;
  if (!NativeEventSource) return;
  window.EventSource = class EventSource extends NativeEventSource {
    constructor(url, options) {
      super(url, options);
      const request = note(url, this);
      if (!request) return;
      streamRequests.set(this, request);
      this.addEventListener("open", () => {
        request.state = "open";
        pending.add(request);
      });
      this.addEventListener("message", (event) => streamMessage(Number(event.lastEventId)));
      this.addEventListener("error", () => {
        if (this.readyState === NativeEventSource.CLOSED) {
          settle(request);
          return;
        }
        // The browser asks again by itself, after the server's retry: delay.
        request.state = "asked";
        request.since = performance.now();
        pending.add(request);
      });
    }

    close() {
      super.close();
      const request = streamRequests.get(this);
      if (request) settle(request);
    }
  };
}
