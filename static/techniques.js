// The four techniques, in teaching order: the page's one list of them.
//
// The server keeps its own list (src/technique.rs); a test
// (tests/api/techniques.rs) checks that both name the same techniques in
// the same order, that every one has its client in lanes/<name>.js, and
// that style.css gives each its colour. Adding a fifth technique:
// tests/README.md.
//
// `sharesConnections`: the technique's requests go over the browser's
// HTTP/1.1 connections to the server, of which it keeps at most six
// (a WebSocket is not counted against them).

export const TECHNIQUES = [
  { name: "poll", title: "Short polling", short: "short poll", sharesConnections: true },
  { name: "longpoll", title: "Long-polling", short: "long-poll", sharesConnections: true },
  { name: "sse", title: "Server-Sent Events", short: "SSE", sharesConnections: true },
  { name: "ws", title: "WebSocket", short: "WebSocket", sharesConnections: false },
];

// The names alone: poll, longpoll, sse, ws.
export const NAMES = TECHNIQUES.map((t) => t.name);

// The short names the charts and tables use, by name.
export const SHORT_NAME = Object.fromEntries(TECHNIQUES.map((t) => [t.name, t.short]));
