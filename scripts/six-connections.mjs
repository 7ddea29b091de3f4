// How many tabs of the page one browser keeps live over HTTP/1.1, measured.
//
// A browser opens at most six connections to one origin over HTTP/1.1.
// Each tab of the page holds an SSE stream for good, parks a long-poll
// until the next message, and asks for /api/poll and /api/stats every
// second; the WebSocket lane has a pool of its own. This opens the page in
// 3, 4, 6 and 7 tabs of one browser (a fresh browser for each count), lets
// them run, and records per tab and per lane:
//   - how many of the messages published in the observed window arrived
//     (by the end of the run), and how late: arrival minus the first
//     arrival of the same message in any lane of any tab (in practice a
//     WebSocket lane, outside the pool);
//   - how long the lane's requests waited in the browser before they were
//     sent (Resource Timing: requestStart − startTime), and which requests
//     were still waiting when the window ended (DevTools protocol events);
//   - how long one fresh request (GET /healthz) took at the end.
//
// usage: node scripts/six-connections.mjs URL OUT.json [TABS ...]
// (scripts/six-connections.sh starts a server and runs this.)
// Needs playwright-core in tests/browser/node_modules (npm ci --prefix
// tests/browser) and Chromium (CHROMIUM, default /usr/bin/chromium).

import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const require = createRequire(new URL("../tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const LANES = ["poll", "longpoll", "sse", "ws"];
// Tabs open one after another, this far apart.
const OPEN_EVERY_MS = 3000;
// After the last tab opened, before the window starts.
const SETTLE_MS = 10000;
// The observed window.
const WINDOW_MS = 30000;
// The fresh request at the end gets this long.
const PROBE_TIMEOUT_MS = 10000;
// After the window, before reading what arrived: a message published just
// before the window ended may still be on its way to a poll lane.
const DRAIN_MS = 5000;

const [url, out, ...counts] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node scripts/six-connections.mjs URL OUT.json [TABS ...]");
  process.exit(2);
}
const tabCounts = counts.length ? counts.map(Number) : [3, 4, 6, 7];
// The requests the page repeats, by name.
const REPEATED = { poll: "/api/poll", longpoll: "/api/longpoll", stats: "/api/stats" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs in every tab before the page's own scripts: records each message
// item a lane adds (its id and when) and every finished request to /api/.
function recorder(lanes) {
  window.sixConnections = { arrivals: Object.fromEntries(lanes.map((l) => [l, []])), resources: [] };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const path = new URL(entry.name).pathname;
      if (!path.startsWith("/api/") && path !== "/healthz") continue;
      window.sixConnections.resources.push({
        path,
        start: performance.timeOrigin + entry.startTime,
        waited_ms: entry.requestStart - entry.startTime,
        took_ms: entry.responseEnd - entry.startTime,
      });
    }
  }).observe({ type: "resource", buffered: true });
  document.addEventListener("DOMContentLoaded", () => {
    for (const lane of lanes) {
      const list = document.querySelector(`[data-lane="${lane}"] .messages`);
      if (!list) continue;
      new MutationObserver((changes) => {
        const at = performance.timeOrigin + performance.now();
        for (const change of changes) {
          for (const item of change.addedNodes) {
            const id = Number(item.dataset?.id);
            if (id) window.sixConnections.arrivals[lane].push({ id, at });
          }
        }
      }).observe(list, { childList: true });
    }
  });
}

async function lastId() {
  const stats = await (await fetch(new URL("/api/stats", url))).json();
  return stats.hub.last_id;
}

function summary(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v) => Math.round(v * 10) / 10;
  return { count: sorted.length, p50: round(sorted[Math.floor((sorted.length - 1) / 2)]), max: round(sorted.at(-1)) };
}

// Requests the tab has sent or queued, as the DevTools protocol sees them:
// a request still here at the end got no response headers yet.
function trackPending(page) {
  const pending = new Map();
  page.on("request", (request) => pending.set(request, Date.now()));
  const done = (request) => pending.delete(request);
  page.on("response", (response) => done(response.request()));
  page.on("requestfailed", done);
  return pending;
}

async function probe(page) {
  return page.evaluate(async (timeout) => {
    const started = performance.now();
    try {
      await fetch("/healthz", { cache: "no-store", signal: AbortSignal.timeout(timeout) });
      return { answered: true, took_ms: Math.round(performance.now() - started) };
    } catch {
      return { answered: false, took_ms: null };
    }
  }, PROBE_TIMEOUT_MS).catch(() => ({ answered: false, took_ms: null }));
}

async function scenario(tabs) {
  console.log(`six-connections: ${tabs} tabs`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const version = browser.version();
  const context = await browser.newContext();
  await context.addInitScript(recorder, LANES);
  const pages = [];
  for (let i = 0; i < tabs; i += 1) {
    const page = await context.newPage();
    const opened = Date.now();
    const entry = { page, pending: trackPending(page), loaded_after_ms: null };
    page.once("load", () => { entry.loaded_after_ms = Date.now() - opened; });
    page.goto(url, { waitUntil: "commit", timeout: 0 }).catch(() => {});
    pages.push(entry);
    await sleep(OPEN_EVERY_MS);
  }
  await sleep(SETTLE_MS);
  const from = { id: await lastId(), at: Date.now() };
  await sleep(WINDOW_MS);
  const to = { id: await lastId(), at: Date.now() };
  const probes = await Promise.all(pages.map(({ page }) => probe(page)));
  await sleep(DRAIN_MS);

  const seen = await Promise.all(pages.map(({ page }) =>
    page.evaluate(() => ({
      ...window.sixConnections,
      loaded: document.readyState,
      stalled_notice: document.querySelector('[data-notice="stalled"]')?.hidden === false,
    })).catch(() => null)));
  // The first arrival of each message anywhere is the reference for "late".
  const first = new Map();
  for (const tab of seen) {
    for (const lane of LANES) {
      for (const { id, at } of tab?.arrivals[lane] ?? []) {
        if (!first.has(id) || at < first.get(id)) first.set(id, at);
      }
    }
  }
  const published = [];
  for (let id = from.id + 1; id <= to.id; id += 1) published.push(id);

  const result = pages.map(({ pending, loaded_after_ms }, index) => {
    const tab = seen[index];
    const lanes = {};
    for (const lane of LANES) {
      const arrivals = new Map((tab?.arrivals[lane] ?? []).map(({ id, at }) => [id, at]));
      const got = published.filter((id) => arrivals.has(id));
      const late = got.filter((id) => first.has(id)).map((id) => arrivals.get(id) - first.get(id));
      lanes[lane] = {
        delivered: got.length,
        published: published.length,
        late_ms: summary(late),
      };
    }
    const inWindow = (tab?.resources ?? []).filter((r) => r.start >= from.at && r.start <= to.at);
    const waits = {};
    for (const [name, path] of Object.entries(REPEATED)) {
      waits[name] = summary(inWindow.filter((r) => r.path === path).map((r) => r.waited_ms));
    }
    const stillWaiting = {};
    for (const [request, since] of pending) {
      const path = new URL(request.url()).pathname;
      if (request.resourceType() === "websocket") continue;
      const age = to.at - since;
      if (age <= 0) continue;
      const name = path.replace(/^\/api\//, "");
      const known = stillWaiting[name] ?? { count: 0, oldest_ms: 0 };
      stillWaiting[name] = { count: known.count + 1, oldest_ms: Math.max(known.oldest_ms, age) };
    }
    return {
      tab: index + 1,
      page_loaded_after_ms: loaded_after_ms,
      stalled_notice_shown: tab?.stalled_notice ?? null,
      lanes,
      request_waits_ms: waits,
      without_response_at_end: stillWaiting,
      fresh_request: probes[index],
    };
  });
  await browser.close();
  return {
    tabs,
    chromium: version,
    window: { from_id: from.id, to_id: to.id, published: published.length, seconds: (to.at - from.at) / 1000 },
    summary: overall(result),
    per_tab: result,
  };
}

// The scenario at a glance: per lane, in how many tabs it got every message
// of the window and in how many it got none; the longest any repeated
// request waited in the browser; the fresh requests.
function overall(tabs) {
  const lanes = {};
  for (const lane of LANES) {
    const counts = tabs.map((t) => t.lanes[lane]);
    lanes[lane] = {
      tabs_with_every_message: counts.filter((c) => c.delivered === c.published).length,
      tabs_with_none: counts.filter((c) => c.delivered === 0).length,
      late_ms_max: Math.max(0, ...counts.map((c) => c.late_ms?.max ?? 0)),
    };
  }
  const waited = {};
  for (const name of Object.keys(REPEATED)) {
    const maxima = tabs.map((t) => t.request_waits_ms[name]?.max).filter((v) => v !== undefined);
    const unsent = tabs.map((t) => t.without_response_at_end[name]?.oldest_ms ?? 0);
    waited[name] = {
      longest_sent_ms: maxima.length ? Math.max(...maxima) : null,
      tabs_still_waiting: unsent.filter((age) => age > 0).length,
      longest_unsent_ms: Math.max(0, ...unsent),
    };
  }
  const fresh = tabs.map((t) => t.fresh_request);
  const answered = fresh.filter((f) => f.answered).map((f) => f.took_ms);
  return {
    lanes,
    requests_waited: waited,
    sse_streams_without_connection: tabs.filter((t) => t.without_response_at_end.sse).length,
    fresh_request: {
      answered: answered.length,
      unanswered: fresh.length - answered.length,
      slowest_ms: answered.length ? Math.max(...answered) : null,
    },
  };
}

const results = [];
for (const tabs of tabCounts) results.push(await scenario(tabs));
const report = {
  what: "the page open in N tabs of one headless Chromium over HTTP/1.1; per tab and lane, messages delivered in the window and how late, request waits (Resource Timing), requests without a response at the end",
  date: new Date().toISOString().slice(0, 10),
  server: process.env.SIX_SERVER ?? "a pushlab server",
  settings: { open_every_ms: OPEN_EVERY_MS, settle_ms: SETTLE_MS, window_ms: WINDOW_MS, probe_timeout_ms: PROBE_TIMEOUT_MS, drain_ms: DRAIN_MS },
  scenarios: Object.fromEntries(results.map((r) => [`tabs-${r.tabs}`, r])),
};
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`six-connections: wrote ${out}`);
