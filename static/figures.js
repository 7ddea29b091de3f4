// The figures under each lane: this tab's own, large, beside the class's,
// small and labelled "class", and what this browser measured itself.
//
// - This tab (`data-stat`): what the server counted for this tab alone —
//   the requests, answers, bytes and deliveries of its four lanes, by the
//   tab id they send (GET /api/tabs/{TAB_ID}). "Reset counters" starts
//   them from zero on the server (POST /api/tabs/{TAB_ID}/reset), latency
//   included.
// - The class (`data-class-stat`): the server's counters for every client —
//   every tab, every student, every curl (GET /api/stats). They only ever
//   grow, like the Prometheus counters they are, so "Reset counters" keeps
//   their current values as a baseline here and shows what came after. The
//   class's latency is of the last 60 s (the server's `recent` window), so
//   a bad minute long ago does not stay in its p99.
// - This browser (`data-browser-stat`): receive time − published_at_us,
//   clock offset corrected, over this tab's recent deliveries.
//
// Messages that arrive as a catch-up — after a pause or a reconnect — were
// late because the lane was away, not because of the technique: the server
// keeps them out of the tab's and the class's percentiles, the lane marks
// them (lane.js `backlog`), and the "caught up" row shows them apart.
//
// Bytes per message is the chapters' one definition: every byte of the
// technique in both directions, headers and framing included, divided by
// the messages it delivered: (bytes_in + bytes_out) / messages_delivered.
// Requests per minute are measured over the last 15 s, so they follow a
// changed setting within seconds.
//
// When the WebSocket's messages come compressed (permessage-deflate), its
// bytes are already the compressed ones: the server counts the wire. Next
// to them the lane shows what compression saved down the socket over the
// same 15 s — measured: the bytes the server sent this tab's WebSocket ÷
// the messages it delivered; computed: those messages' frames as they
// would have gone uncompressed (lane.js keeps their sizes).
//
// Neither route is counted as any technique's traffic, so watching the
// figures does not move them.

import { HttpError, requestJson } from "./http.js";
import { percentile } from "./charts.js";
import { TAB_ID } from "./tab.js";

const REFRESH_MS = 1000;
// Requests per minute are measured over this window of snapshots.
export const RATE_WINDOW_MS = 15000;
// The WebSocket's saving is shown over at least this many messages: the
// server counts a message a moment before its frame's bytes, so over a
// few the bytes per message may be off by a whole message.
const SAVING_MESSAGES = 10;
// Figures this late mean the browser cannot reach the server: say so.
const STALL_MS = 5000;

const TAB_URL = `/api/tabs/${TAB_ID}`;
const COUNTERS = ["requests", "empty_responses", "messages_delivered", "messages_missed", "bytes_in", "bytes_out"];

export class Figures {
  constructor(lanes, stalledNotice) {
    this.lanes = lanes;
    this.stalledNotice = stalledNotice;
    // {at, askedAt, tab} snapshots of the last RATE_WINDOW_MS, for the
    // rates: when the tab's figures arrived, and when they were asked for.
    this.history = [];
    // The class's counters when "Reset counters" was pressed.
    this.baseline = null;
    // The newest /api/stats, and this tab's newest figures (null until the
    // server knows the tab).
    this.latest = null;
    this.tab = null;
    this.onRefresh = () => {};
  }

  async run() {
    for (;;) {
      await this.refresh();
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
    }
  }

  async refresh() {
    const stalled = setTimeout(() => this.stalled(), STALL_MS);
    try {
      // One after the other: one connection of the browser's six, not two.
      const stats = await requestJson("/api/stats");
      const askedAt = performance.now();
      const tab = await tabFigures();
      if (this.latest && wentBack(this.latest, stats)) this.restarted();
      this.latest = stats;
      this.tab = tab;
      const now = performance.now();
      this.history.push({ at: now, askedAt, tab });
      while (this.history.length > 2 && this.history[0].at < now - RATE_WINDOW_MS) this.history.shift();
      this.stalledNotice.hidden = true;
      this.render();
      this.onRefresh();
    } catch {
      this.stalled();
    } finally {
      clearTimeout(stalled);
    }
  }

  stalled() {
    this.stalledNotice.textContent =
      "The figures have not updated for a while: the server does not answer, or every " +
      "connection this browser allows to it is in use (see the note on other tabs).";
    this.stalledNotice.hidden = false;
  }

  // The server restarted and its counters began again from zero: so do we.
  restarted() {
    this.baseline = null;
    this.history = [];
  }

  // From now on, count from zero: this tab's figures on the server, the
  // class's from a baseline, this browser's samples afresh.
  async reset() {
    this.baseline = this.latest;
    this.history = [];
    this.tab = null;
    Object.values(this.lanes).forEach((lane) => lane.clearSamples());
    this.render();
    try {
      await requestJson(`${TAB_URL}/reset`, { method: "POST" });
    } catch (error) {
      // A tab the server does not know yet has nothing to reset; anything
      // else is said where the figures' troubles are.
      if (!(error instanceof HttpError && error.status === 404)) {
        this.stalledNotice.textContent = `This tab's figures could not be reset: ${error.message}`;
        this.stalledNotice.hidden = false;
        return;
      }
    }
    await this.refresh();
  }

  // This tab's figures of technique `name` (zeros until the server knows
  // the tab), with `bytes` = in + out.
  own(name) {
    const t = this.tab?.techniques[name];
    const c = {};
    for (const counter of COUNTERS) c[counter] = t ? t[counter] : 0;
    c.bytes = c.bytes_in + c.bytes_out;
    c.latency = t?.latency_ms ?? { count: 0 };
    c.backlog = t?.backlog ?? { messages_delivered: 0, latency_ms: { count: 0 } };
    return c;
  }

  // The class's counters of technique `name` since the baseline, its open
  // connections, and its latency over the recent window.
  counted(name) {
    const now = this.latest?.techniques[name];
    if (!now) return null;
    const base = this.baseline?.techniques[name];
    const since = {};
    for (const counter of COUNTERS) since[counter] = now[counter] - (base ? base[counter] : 0);
    since.bytes = since.bytes_in + since.bytes_out;
    since.open = now.connections_open;
    since.latency = now.recent?.latency_ms ?? now.latency_ms;
    since.windowS = now.recent?.window_s ?? null;
    since.backlog = now.backlog;
    return since;
  }

  // The class's bytes on the wire per delivered message since the
  // baseline, or null (the comparison chart's bars).
  bytesPerMessage(name) {
    return perMessage(this.counted(name));
  }

  // This tab's requests per minute over the last RATE_WINDOW_MS.
  requestsPerMinute(name) {
    if (this.history.length < 2) return null;
    const first = this.history[0];
    const last = this.history[this.history.length - 1];
    const minutes = (last.at - first.at) / 60000;
    if (minutes < 5 / 60) return null;
    const requests = (snapshot) => snapshot.tab?.techniques[name].requests ?? 0;
    return Math.max(0, requests(last) - requests(first)) / minutes;
  }

  render() {
    for (const lane of Object.values(this.lanes)) this.renderLane(lane);
  }

  renderLane(lane) {
    const set = (selector, text) => {
      const element = lane.root.querySelector(selector);
      if (element) element.textContent = text;
    };
    const own = this.own(lane.name);
    set('[data-stat="requests"]', String(own.requests));
    set('[data-stat="empty"]', String(own.empty_responses));
    set('[data-stat="messages"]', String(own.messages_delivered));
    set('[data-stat="bytes"]', String(own.bytes));
    set('[data-figure="missed"]', String(own.messages_missed));
    set('[data-figure="empty-percent"]', own.requests > 0 ? String(Math.round((100 * own.empty_responses) / own.requests)) : "–");
    set('[data-figure="bytes-per-message"]', formatNumber(perMessage(own), 0));
    set('[data-figure="per-minute"]', formatNumber(this.requestsPerMinute(lane.name), 0));
    set('[data-stat="p50"]', own.latency.count > 0 ? formatMs(own.latency.p50) : "–");
    set('[data-stat="p99"]', own.latency.count > 0 ? formatMs(own.latency.p99) : "–");

    const c = this.counted(lane.name);
    if (c) {
      set('[data-class-stat="requests"]', String(c.requests));
      set('[data-class-stat="empty"]', String(c.empty_responses));
      set('[data-class-stat="messages"]', String(c.messages_delivered));
      set('[data-class-stat="bytes"]', String(c.bytes));
      set('[data-class-stat="open"]', String(c.open));
      set('[data-class-figure="bytes-per-message"]', formatNumber(perMessage(c), 0));
      set('[data-class-stat="p50"]', c.latency.count > 0 ? formatMs(c.latency.p50) : "–");
      set('[data-class-stat="p99"]', c.latency.count > 0 ? formatMs(c.latency.p99) : "–");
    }

    const live = lane.samples.filter((s) => !s.backlog).map((s) => s.ms);
    set('[data-browser-stat="p50"]', formatMs(percentile(live, 50)));
    set('[data-browser-stat="p99"]', formatMs(percentile(live, 99)));
    this.renderBacklog(lane, own.backlog, c?.backlog);
    this.renderSaving(lane);
  }

  // The WebSocket lane's saving, over the last RATE_WINDOW_MS since its
  // socket's hello; hidden unless the server accepted compression.
  renderSaving(lane) {
    const shown = lane.root.querySelector("[data-ws-saving]");
    if (!shown) return;
    shown.hidden = !lane.compression;
    if (!lane.compression) return;
    // Figures asked for after the hello arrived: the server had counted
    // the handshake and the hello before them, so their differences are
    // the messages' frames (and pings), not the opening of the socket.
    const since = this.history.filter((snapshot) => snapshot.tab && snapshot.askedAt >= lane.negotiatedAt);
    const say = (words) => {
      shown.textContent = words;
      shown.title = `Shown once ${SAVING_MESSAGES} messages have come down this WebSocket within ${RATE_WINDOW_MS / 1000} s.`;
      delete shown.dataset.measured;
      delete shown.dataset.computed;
      delete shown.dataset.messages;
    };
    if (since.length < 2) return say("compressed: measuring…");
    const first = since[0];
    const last = since[since.length - 1];
    const counted = (snapshot, counter) => snapshot.tab.techniques[lane.name][counter];
    const messages = counted(last, "messages_delivered") - counted(first, "messages_delivered");
    const plain = lane.plainSizes.filter((s) => s.at > first.at && s.at <= last.at);
    if (messages < SAVING_MESSAGES || plain.length === 0) {
      return say(messages > 0 ? `compressed: measuring (${messages} messages so far)` : `compressed: no messages in the last ${RATE_WINDOW_MS / 1000} s`);
    }
    const measured = (counted(last, "bytes_out") - counted(first, "bytes_out")) / messages;
    const computed = plain.reduce((sum, s) => sum + s.bytes, 0) / plain.length;
    const change = Math.round(100 * (measured / computed - 1));
    const percent = change < 0 ? `−${-change} %` : `+${change} %`;
    shown.textContent = `compressed: ${measured.toFixed(0)} B a message, not ${computed.toFixed(0)} (${percent})`;
    shown.dataset.measured = measured.toFixed(1);
    shown.dataset.computed = computed.toFixed(1);
    shown.dataset.messages = String(messages);
    shown.title =
      `Down this WebSocket, over the last ${RATE_WINDOW_MS / 1000} s. ${measured.toFixed(0)} B is measured: the bytes the ` +
      "server counted sending this tab's WebSocket (its frames as they went, compressed, and its pings), divided by the " +
      `messages it delivered. ${computed.toFixed(0)} B is computed by this page: the same messages' frames had they gone ` +
      "uncompressed, each message's text in UTF-8 plus a 2-byte frame header (4 bytes above 125).";
  }

  // The "caught up" row: this browser's catch-up deliveries since the
  // reset and their delay, apart from the live rows above; its title says
  // what the server counted of them for this tab and for the class.
  renderBacklog(lane, tabBacklog, classBacklog) {
    const late = lane.samples.filter((s) => s.backlog).map((s) => s.ms);
    const row = lane.root.querySelector("tr.backlog");
    if (!row) return;
    row.querySelector('[data-figure="backlog"]').textContent = String(late.length);
    row.querySelector('[data-browser-backlog="p50"]').textContent = formatMs(percentile(late, 50));
    row.querySelector('[data-browser-backlog="p99"]').textContent = formatMs(percentile(late, 99));
    row.classList.toggle("none", late.length === 0);
    const server = (b) => (b?.messages_delivered ? `${b.messages_delivered} (p50 ${formatMs(b.latency_ms.p50)} ms)` : "none");
    row.querySelector("th").title =
      "Messages that arrived as a catch-up after this lane was paused or reconnected: late because the lane " +
      "was away, so kept out of this browser's p50/p99 above; their own are in this row. The server keeps " +
      "apart what waited longer than its window (a short poll 10 s, the others 1 s). At the server, this tab: " +
      `${server(tabBacklog)}; the class since the server started: ${server(classBacklog)}.`;
  }
}

// This tab's figures, or null while the server does not know the tab (a
// new page before its lanes' first request, or after a restart).
async function tabFigures() {
  try {
    return await requestJson(TAB_URL);
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return null;
    throw error;
  }
}

// (in + out) ÷ messages, or null before the first message.
function perMessage(c) {
  return c && c.messages_delivered > 0 ? c.bytes / c.messages_delivered : null;
}

// Counters only grow while a server runs; smaller ones mean a new run.
function wentBack(before, now) {
  if (now.uptime_s < before.uptime_s) return true;
  return Object.keys(now.techniques).some((t) => now.techniques[t].requests < (before.techniques[t]?.requests ?? 0));
}

function formatNumber(value, digits) {
  return value === null ? "–" : value.toFixed(digits);
}

// Milliseconds: one decimal below 100, whole numbers above.
export function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}
