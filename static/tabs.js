// Other open tabs of this page, and why they matter. Over HTTP/1.1 a
// browser opens at most six connections to one server (WebSockets have a
// pool of their own). Each tab of this page keeps one long-poll parked and
// one SSE stream open, so three tabs hold all six, and every other request
// to this server — polls, publishing, the figures — waits silently for one
// to free up. (HTTP/2 carries all of them over one connection instead.)
//
// So tabs of the page greet each other on a BroadcastChannel, keep saying
// they are there, and the page says what is happening rather than hanging.

const CHANNEL = "pushlab-tabs";
const HEARTBEAT_MS = 5000;
const GONE_AFTER_MS = 3 * HEARTBEAT_MS;
const CONNECTIONS_PER_ORIGIN = 6;
const PARKED_PER_TAB = 2;

export function watchTabs(notice, park) {
  if (!("BroadcastChannel" in window)) return;
  const channel = new BroadcastChannel(CHANNEL);
  // Not crypto.randomUUID: a classroom server over plain http on a LAN
  // address is not a secure context, where that function does not exist.
  const me = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const others = new Map();
  const say = (type) => channel.postMessage({ type, from: me });

  channel.addEventListener("message", ({ data }) => {
    if (data?.from === undefined || data.from === me) return;
    if (data.type === "bye") others.delete(data.from);
    else others.set(data.from, Date.now());
    if (data.type === "hello") say("here");
    show(notice, others.size);
  });
  notice.querySelector('[data-action="park"]').addEventListener("click", park);
  addEventListener("pagehide", () => say("bye"));
  setInterval(() => {
    say("here");
    for (const [tab, seen] of others) if (Date.now() - seen > GONE_AFTER_MS) others.delete(tab);
    show(notice, others.size);
  }, HEARTBEAT_MS);
  say("hello");
}

function show(notice, othersOpen) {
  notice.hidden = othersOpen === 0;
  if (othersOpen === 0) return;
  const tabs = othersOpen + 1;
  const parked = tabs * PARKED_PER_TAB;
  const full = parked >= CONNECTIONS_PER_ORIGIN;
  notice.classList.toggle("full", full);
  notice.querySelector("p").textContent =
    `${tabs} tabs of this page are open. Each parks a long-poll and an SSE stream, and over ` +
    `HTTP/1.1 a browser opens at most ${CONNECTIONS_PER_ORIGIN} connections to a server: ` +
    `${Math.min(parked, CONNECTIONS_PER_ORIGIN)} of ${CONNECTIONS_PER_ORIGIN} are taken` +
    (full
      ? ", so other requests to it wait silently until one frees up. "
      : ` (at ${CONNECTIONS_PER_ORIGIN / PARKED_PER_TAB} tabs, all of them). `) +
    "Close a tab, or pause lanes.";
}
