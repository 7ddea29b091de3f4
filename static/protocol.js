// Which HTTP each lane travels over, as the browser itself reports it:
// Resource Timing's nextHopProtocol ("http/1.1", "h2"). Over HTTPS
// (pushlab --tls) the browser picks HTTP/2, and then the polls, long-polls
// and the event stream are streams of one connection: HTTP/1.1's six
// connections per origin, which three tabs of this page use up, no longer
// hold anything back. The WebSocket always opens an HTTP/1.1 connection of
// its own: over HTTP/2 it would need extended CONNECT (RFC 8441), which
// pushlab's server (actix-http) does not offer, and Resource Timing does
// not list WebSockets at all.
//
// Each lane's summary ends with its protocol, in an element marked
// data-http-version (its text is the protocol, its title says where it
// was read). Over HTTP/2 the server's byte figures hold estimates (it sees
// the heads decoded, never as HPACK compressed them; /api/stats says so in
// `estimated`): the lane's byte labels then end in "≈" and are marked
// data-estimated.

const PATHS = { poll: "/api/poll", longpoll: "/api/longpoll", sse: "/api/sse" };

// The protocols that carry every request to a server over one connection.
const MULTIPLEXED = new Set(["h2", "h3"]);

// The page's own connection: what an open event stream runs on too (its
// Resource Timing entry is written only when the stream ends).
function pageProtocol() {
  return performance.getEntriesByType("navigation")[0]?.nextHopProtocol || "";
}

// Whether this page's lanes share one connection to the server (HTTP/2):
// then a browser's six connections per server (HTTP/1.1) hold nothing
// back, whatever the tabs of the page hold (tabs.js). The lanes' requests
// go where the page came from, so they run on what the page's did.
export function multiplexed() {
  return MULTIPLEXED.has(pageProtocol());
}

function marker(lane) {
  const summary = lane.root.querySelector(".summary");
  const span = document.createElement("span");
  span.dataset.httpVersion = "";
  summary.append(" · ", span);
  return span;
}

const ESTIMATED =
  "over HTTP/2 the server sees each head decoded, not as HPACK compressed it: " +
  "the heads' bytes are estimated (an upper bound), the bodies' counted";

function show(span, protocol, where) {
  if (!protocol || span.textContent === protocol) return;
  span.textContent = protocol;
  span.title = where;
  if (protocol === "h2") markEstimated(span.closest("[data-lane]"));
}

function markEstimated(lane) {
  for (const figure of ['[data-stat="bytes"]', '[data-figure="bytes-per-message"]']) {
    const box = lane.querySelector(figure)?.parentElement;
    const label = box?.querySelector(".label");
    if (!label || "estimated" in label.dataset) continue;
    label.dataset.estimated = "";
    label.append(" ≈");
    box.title = ESTIMATED;
  }
}

// lanes: { poll, longpoll, sse, ws } (lane.js).
export function showProtocols(lanes) {
  const spans = Object.fromEntries(Object.keys(lanes).map((name) => [name, marker(lanes[name])]));
  show(spans.ws, "http/1.1", "a WebSocket opens its own HTTP/1.1 connection (no RFC 8441 here)");
  show(spans.sse, pageProtocol(), "the page's connection: an open event stream is listed only when it ends");
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const path = new URL(entry.name).pathname;
      for (const [name, lanePath] of Object.entries(PATHS)) {
        if (path === lanePath) show(spans[name], entry.nextHopProtocol, "Resource Timing's nextHopProtocol of its last request");
      }
    }
  });
  observer.observe({ type: "resource", buffered: true });
}
