// The six connections, as they happen. Over HTTP/1.1 a browser opens at
// most six connections to one server (WebSockets have a pool of their own).
// Each tab of this page holds one for its SSE stream for good, and one for
// its long-poll while it is parked at the server; the polls and the figures
// need one for a few milliseconds each. When all six are held, every other
// request to this server waits silently inside the browser until one frees
// up. (HTTP/2 carries all of them over one connection instead.)
//
// So this tab notes its own requests (queue.js), and the tabs of the page
// tell each other on a BroadcastChannel what they really hold — a paused
// lane holds nothing — and keep saying they are there. The notice counts
// what all of them hold and says what happens at this many tabs: requests
// go out at once, wait their turn for the connection a long-poll's answer
// frees, or, with six streams open, wait until a stream closes. Each lane
// shows its own request that waits (waiting.js), and a button fills the six
// on purpose in this tab (fill.js).
//
// Over HTTP/2 (pushlab --tls; protocol.js knows) there is nothing to
// count: every lane of every tab is a stream of one connection, no request
// waits for another's, and the notice stays hidden. It still notes how
// many tabs it sees (data-tabs), so that a test can tell "hidden over
// HTTP/2" from "not counted yet".

import * as queue from "./queue.js";
import { laneBadges } from "./waiting.js";
import { wireFill } from "./fill.js";
import { multiplexed } from "./protocol.js";

const CHANNEL = "pushlab-tabs";
const HEARTBEAT_MS = 5000;
// A tab that closes says "bye". One that stops saying "here" is forgotten
// after this long — longer than a minute, because a browser may run a
// background tab's timers only once a minute (Chromium's intensive
// throttling), and such a tab still holds its stream.
const GONE_AFTER_MS = 75000;
// The count, the notice and the lanes' badges are redrawn this often.
const REDRAW_MS = 250;
const SIX = queue.CONNECTIONS_PER_ORIGIN;
const NOTHING = { streams: 0, extraStreams: 0, parked: 0, waiting: 0 };

// Watches this tab's requests and the other tabs; keeps `notice` saying
// what holds the six. `park` pauses this tab's long-poll and SSE lanes.
export function watchTabs(notice, park) {
  queue.install(); // first: before the page makes any request
  wireFill(document.querySelector("[data-six]"));
  const drawBadges = laneBadges();
  notice.querySelector('[data-action="park"]').addEventListener("click", park);

  // Not crypto.randomUUID: a classroom server over plain http on a LAN
  // address is not a secure context, where that function does not exist.
  const me = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const others = new Map(); // tab → { seen, holds }
  // Tabs that said "bye": a word from one after that (its requests being
  // aborted as it closes change what it holds) must not bring it back.
  const gone = new Set();
  let holds = queue.mine();
  let leaving = false;
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
  const say = (type) => {
    if (!leaving) channel?.postMessage({ type, from: me, holds });
  };

  channel?.addEventListener("message", ({ data }) => {
    if (data?.from === undefined || data.from === me) return;
    if (data.type === "hello") gone.delete(data.from);
    if (data.type === "bye") {
      others.delete(data.from);
      gone.add(data.from);
    } else if (!gone.has(data.from)) {
      others.set(data.from, { seen: Date.now(), holds: { ...NOTHING, ...data.holds } });
    }
    if (data.type === "hello") say("here");
  });
  addEventListener("pagehide", () => {
    say("bye");
    leaving = true;
  });
  // Back from the browser's page cache: the others forgot this tab.
  addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    leaving = false;
    say("hello");
  });
  setInterval(() => {
    say("here");
    for (const [tab, { seen }] of others) if (Date.now() - seen > GONE_AFTER_MS) others.delete(tab);
  }, HEARTBEAT_MS);
  setInterval(() => {
    const now = queue.mine();
    if (!sameHolds(now, holds)) {
      holds = now;
      say("holds");
    }
    const all = total([holds, ...[...others.values()].map((tab) => tab.holds)]);
    const shared = multiplexed();
    // Over HTTP/2 nothing holds a connection another request waits for.
    queue.setBrowser(shared ? 0 : all.held, shared ? 0 : all.streams);
    notice.dataset.tabs = String(all.tabs);
    if (shared) notice.hidden = true;
    else show(notice, all);
    drawBadges();
  }, REDRAW_MS);
  say("hello");
}

function sameHolds(a, b) {
  return Object.keys(NOTHING).every((key) => a[key] === b[key]);
}

// What every tab together holds.
function total(tabs) {
  const sum = (key) => tabs.reduce((n, tab) => n + tab[key], 0);
  const streams = sum("streams");
  const parked = sum("parked");
  return {
    tabs: tabs.length,
    streams,
    extraStreams: sum("extraStreams"),
    parked,
    waiting: sum("waiting"),
    held: Math.min(SIX, streams + parked),
  };
}

// The notice is a status region, read out on every change: a new state
// (free, busy, stuck) shows at once, new counts at most this often.
const RECOUNT_MS = 2000;
let shownState = null;
let shownAt = 0;

function show(notice, all) {
  const shown = all.tabs > 1 || all.held >= SIX || all.waiting > 0;
  notice.hidden = !shown;
  if (!shown) {
    shownState = null;
    return;
  }
  const state = all.streams >= SIX ? "full" : all.held >= SIX ? "busy" : "free";
  const now = performance.now();
  if (state === shownState && now - shownAt < RECOUNT_MS) return;
  notice.classList.toggle("full", state === "full");
  notice.classList.toggle("busy", state === "busy");
  const text = `${holding(all)} ${whatHappens(all)}${waitingNow(all)}`;
  const paragraph = notice.querySelector("p");
  if (paragraph.textContent !== text) paragraph.textContent = text;
  shownState = state;
  shownAt = now;
}

// "4 tabs of this page hold 6 of 6 connections to this server, …: 4 SSE
// streams and 2 parked long-polls."
function holding(all) {
  const who = all.tabs === 1 ? "This tab holds" : `${all.tabs} tabs of this page hold`;
  const streams = Math.min(all.streams, SIX);
  const parked = Math.min(all.parked, SIX - streams);
  const extra = all.extraStreams > 0 ? ` (${all.extraStreams} from the button)` : "";
  return (
    `${who} ${all.held} of ${SIX} connections to this server, a browser's most over HTTP/1.1: ` +
    `${count(streams, "SSE stream")}${extra} and ${count(parked, "parked long-poll")}.`
  );
}

// What that means for the requests of every tab, now and with more tabs.
function whatHappens(all) {
  if (all.streams >= SIX) {
    return (
      "Streams never end, so every other request — polls, long-polls, figures, a new tab — waits in " +
      "the browser's queue until a stream closes: close a tab, pause SSE, or release."
    );
  }
  if (all.held >= SIX) {
    return (
      "Polls, figures and further long-polls wait their turn for the connection a long-poll's answer " +
      `frees: the lanes flow, late. ${count(SIX - all.streams, "more stream")}${all.extraStreams ? "" : " (a tab each)"}, ` +
      "and the rest would wait until a stream closes."
    );
  }
  const free = SIX - all.held;
  return `${free} free: requests go out at once. From ${all.tabs + Math.ceil(free / 2)} tabs, polls wait their turn.`;
}

function waitingNow(all) {
  if (all.waiting === 0) return "";
  return ` Now ${count(all.waiting, "request")} ${all.waiting === 1 ? "waits" : "wait"} in the queue.`;
}

function count(n, thing) {
  return `${n} ${thing}${n === 1 ? "" : "s"}`;
}
