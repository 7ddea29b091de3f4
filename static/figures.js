// The figures under each lane: what the server counted for the technique —
// the whole class's, labelled so on the page — next to what this browser
// measured itself ("this browser").
//
// Bytes per message is the chapters' one definition: every byte of the
// technique in both directions, headers and framing included, divided by
// the messages it delivered: (bytes_in + bytes_out) / messages_delivered.
//
// Server figures come from GET /api/stats once a second (that route is not
// counted as any technique's traffic, so watching does not move them). They
// count every client of the server — every tab, every student — and only
// ever grow, like the Prometheus counters they are. "Reset counters"
// therefore keeps the current values as a baseline here and shows what came
// after; the server's latency percentiles cover its whole run and cannot be
// reset from here. The browser's own p50/p99 are over this tab's recent
// deliveries (receive time − published_at_us, clock offset corrected).

import { requestJson } from "./http.js";
import { percentile } from "./charts.js";

const REFRESH_MS = 1000;
// Requests per minute are measured over this window of snapshots.
const RATE_WINDOW_MS = 60000;
// Figures this late mean the browser cannot reach the server: say so.
const STALL_MS = 5000;

const COUNTERS = ["requests", "empty_responses", "messages_delivered", "messages_missed", "bytes_in", "bytes_out"];

export class Figures {
  constructor(lanes, stalledNotice) {
    this.lanes = lanes;
    this.stalledNotice = stalledNotice;
    this.history = [];
    this.baseline = null;
    this.latest = null;
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
      const stats = await requestJson("/api/stats");
      if (this.latest && wentBack(this.latest, stats)) this.restarted();
      this.latest = stats;
      const now = performance.now();
      this.history.push({ at: now, stats });
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

  // From now on, count from the current values.
  reset() {
    this.baseline = this.latest;
    this.history = this.latest ? [{ at: performance.now(), stats: this.latest }] : [];
    Object.values(this.lanes).forEach((lane) => lane.clearSamples());
    this.render();
  }

  // The counters of technique `name` since the baseline.
  counted(name) {
    const now = this.latest?.techniques[name];
    if (!now) return null;
    const base = this.baseline?.techniques[name];
    const since = {};
    for (const counter of COUNTERS) since[counter] = now[counter] - (base ? base[counter] : 0);
    since.bytes = since.bytes_in + since.bytes_out;
    since.latency = now.latency_ms;
    since.backlog = now.backlog;
    return since;
  }

  // Bytes on the wire per delivered message since the baseline, or null.
  bytesPerMessage(name) {
    const c = this.counted(name);
    return c && c.messages_delivered > 0 ? c.bytes / c.messages_delivered : null;
  }

  requestsPerMinute(name) {
    if (this.history.length < 2) return null;
    const first = this.history[0];
    const last = this.history[this.history.length - 1];
    const minutes = (last.at - first.at) / 60000;
    if (minutes < 5 / 60) return null;
    const requests = last.stats.techniques[name].requests - first.stats.techniques[name].requests;
    return requests / minutes;
  }

  render() {
    for (const lane of Object.values(this.lanes)) this.renderLane(lane);
  }

  renderLane(lane) {
    const c = this.counted(lane.name);
    const set = (selector, text) => {
      lane.root.querySelector(selector).textContent = text;
    };
    if (c) {
      set('[data-stat="requests"]', String(c.requests));
      set('[data-stat="empty"]', String(c.empty_responses));
      set('[data-stat="messages"]', String(c.messages_delivered));
      set('[data-stat="bytes"]', String(c.bytes));
      set('[data-figure="missed"]', String(c.messages_missed));
      set('[data-figure="empty-percent"]', c.requests > 0 ? String(Math.round((100 * c.empty_responses) / c.requests)) : "–");
      set('[data-figure="bytes-per-message"]', formatNumber(this.bytesPerMessage(lane.name), 0));
      set('[data-figure="per-minute"]', formatNumber(this.requestsPerMinute(lane.name), 0));
      const measured = c.latency.count > 0;
      set('[data-stat="p50"]', measured ? formatMs(c.latency.p50) : "–");
      set('[data-stat="p99"]', measured ? formatMs(c.latency.p99) : "–");
      const latencyRow = lane.root.querySelector('[data-stat="p50"]')?.closest("tr")?.querySelector("th");
      if (latencyRow) noteBacklog(latencyRow, c.backlog);
    }
    const mine = lane.samples.map((s) => s.ms);
    set('[data-browser-stat="p50"]', formatMs(percentile(mine, 50)));
    set('[data-browser-stat="p99"]', formatMs(percentile(mine, 99)));
  }
}

// The class's percentiles are of live deliveries only: messages that
// clients came back for (after a pause or a reconnect, or with since=0) are
// counted apart by the server, so that one resume does not move everyone's
// p99. The row's title says how many, and how late they were.
function noteBacklog(rowHeader, backlog) {
  rowHeader.dataset.note ??= rowHeader.title;
  const apart = backlog?.messages_delivered
    ? `; kept apart: ${backlog.messages_delivered} resumed (backlog) deliveries, p50 ${formatMs(backlog.latency_ms.p50)} ms`
    : "";
  rowHeader.title = `${rowHeader.dataset.note}; live deliveries only${apart}`;
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
