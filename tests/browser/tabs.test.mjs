// You against the class, in two real browsers (two students, each a
// browser of its own) against one server whose generator publishes 4
// messages a second:
//
// 1. each page's `data-stat` figures are its own: with every lane of the
//    first page paused, its requests stop moving while the class's
//    (`data-class-stat`), which the second page's lanes feed, still grow;
// 2. with both paused, the class figures are the same on both pages, equal
//    to the server's totals and at least the sum of the two tabs' own;
//    the class's open connections per technique are shown (0 now, 2 SSE
//    streams while both ran);
// 3. "Reset counters" on the first page zeroes its own figures (and starts
//    its class figures from a baseline), not the second page's;
// 4. after a pause of more than the server's live window, resuming
//    delivers a catch-up in every lane: shown apart ("caught up"), kept out
//    of this browser's p50 (no lane shows the pause as its delay), and
//    counted apart by the server for this tab too, out of its p50.
//
//   node tests/browser/tabs.test.mjs http://127.0.0.1:PORT/ target/browser/tabs.png
//
// tests/browser.rs starts the server (generator at 4 msg/s) and runs this
// as part of `cargo test`. Every wait is bounded.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LANES, STEP_MS, launchBrowser, runInBrowser, step, watch } from "./harness.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node tabs.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

// The server's live window (src/stats.rs LIVE_WINDOW) and a margin: a
// pause this long makes the server count some of the catch-up as backlog.
const AWAY_MS = 13000;
// How often the test looks again while it waits.
const LOOK_EVERY_MS = 200;
const OWN = ["requests", "empty", "messages", "bytes"];
const CLASS = [...OWN, "open"];

await runInBrowser(async (context) => {
  const first = context.pages()[0] ?? (await context.newPage());
  watch(first, "first student");
  const other = await launchBrowser();
  try {
    const second = await other.context.newPage();
    watch(second, "second student");
    await play(first, second);
  } finally {
    await other.close();
  }
}, screenshot.replace(/\.png$/, "-failure.png"));

async function play(first, second) {
  step(`loading ${url} in two browsers`);
  for (const page of [first, second]) {
    await page.goto(url, { timeout: STEP_MS });
    await page.setViewportSize({ width: 1280, height: 720 });
  }
  for (const page of [first, second]) {
    await until("every lane's own figures to move on both pages", async () => {
      const f = await figures(page);
      return LANES.every((lane) => f[lane].own.requests > 0 && f[lane].own.messages > 0);
    });
  }
  await until("two SSE streams and two WebSockets open in the class", async () => {
    const f = await figures(first);
    return f.sse.cls.open >= 2 && f.ws.cls.open >= 2;
  });

  step("1. the first page pauses every lane: its requests stop, the class's go on");
  const pausedAt = Date.now();
  await pauseAll(first);
  const start = (await figures(first)).poll.cls.requests;
  await until("the class's polls to go on (the second page's)", async () => (await figures(first)).poll.cls.requests >= start + 2);
  const still = await figures(first);
  await until("the class's polls to go on further", async () => (await figures(first)).poll.cls.requests >= still.poll.cls.requests + 3);
  const later = await figures(first);
  for (const lane of LANES) {
    for (const name of ["requests", "messages"]) {
      check(later[lane].own[name] === still[lane].own[name], `${lane}: the paused page's own ${name} went from ${still[lane].own[name]} to ${later[lane].own[name]}`);
    }
  }
  step(`   poll: own ${later.poll.own.requests} requests, still; class ${still.poll.cls.requests} → ${later.poll.cls.requests}`);

  step("2. both paused: one class, the same on both pages, at least the sum of the two tabs");
  await pauseAll(second);
  const settled = await until("both pages to show the server's totals as the class's", async () => {
    const totals = (await serverStats()).techniques;
    const [a, b] = [await figures(first), await figures(second)];
    const same = LANES.every((lane) => {
      const t = totals[lane];
      const server = { requests: t.requests, empty: t.empty_responses, messages: t.messages_delivered, bytes: t.bytes_in + t.bytes_out, open: t.connections_open };
      return CLASS.every((name) => a[lane].cls[name] === server[name] && b[lane].cls[name] === server[name]);
    });
    return same && { a, b };
  });
  for (const lane of LANES) {
    const { a, b } = settled;
    for (const name of OWN) {
      check(a[lane].cls[name] >= a[lane].own[name] + b[lane].own[name],
        `${lane}: the class's ${name} ${a[lane].cls[name]} is less than the two tabs' ${a[lane].own[name]} + ${b[lane].own[name]}`);
    }
    // Nobody else used the server: the class is exactly the two tabs.
    check(a[lane].cls.requests === a[lane].own.requests + b[lane].own.requests,
      `${lane}: the class made ${a[lane].cls.requests} requests, the two tabs ${a[lane].own.requests} + ${b[lane].own.requests}`);
    check(a[lane].cls.open === 0, `${lane}: ${a[lane].cls.open} connections open with every lane paused`);
  }
  step(`   poll requests: class ${settled.a.poll.cls.requests} = ${settled.a.poll.own.requests} + ${settled.b.poll.own.requests}`);

  step("3. Reset counters on the first page: its own figures from zero, not the second page's");
  const secondBefore = await figures(second);
  await first.locator('[data-action="reset"]').click();
  await until("the first page's own and class figures at zero", async () => {
    const f = await figures(first);
    return LANES.every((lane) => OWN.every((name) => f[lane].own[name] === 0 && f[lane].cls[name] === 0));
  });
  const p50s = await first.locator('[data-stat="p50"]').allTextContents();
  check(p50s.every((t) => t === "–"), `the first page's own p50 after its reset: ${p50s.join(", ")}`);
  await until("the second page to refresh its figures", async () => (await secondRefreshes(second)) >= 2);
  const secondAfter = await figures(second);
  for (const lane of LANES) {
    for (const name of OWN) {
      check(secondAfter[lane].own[name] === secondBefore[lane].own[name],
        `${lane}: the second page's own ${name} went from ${secondBefore[lane].own[name]} to ${secondAfter[lane].own[name]} when the first reset`);
      check(secondAfter[lane].cls[name] === secondBefore[lane].cls[name], `${lane}: the second page's class ${name} moved with the first page's reset`);
    }
  }

  step(`4. away for ${AWAY_MS / 1000} s, then resume: the catch-up is shown apart`);
  // The length of the absence is what is being tested, not a synchronisation.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, pausedAt + AWAY_MS - Date.now())));
  await resumeAll(first);
  const shown = await until("every lane of the first page to show its catch-up and a live p50", async () => {
    const rows = await first.evaluate((lanes) =>
      Object.fromEntries(lanes.map((lane) => {
        const root = document.querySelector(`[data-lane="${lane}"]`);
        return [lane, {
          caughtUp: Number(root.querySelector('[data-figure="backlog"]').textContent),
          caughtUpP50: Number(root.querySelector('[data-browser-backlog="p50"]').textContent),
          p50: Number(root.querySelector('[data-browser-stat="p50"]').textContent),
        }];
      })), LANES);
    return LANES.every((lane) => rows[lane].caughtUp > 0 && Number.isFinite(rows[lane].p50)) && rows;
  });
  for (const lane of LANES) {
    const { caughtUp, caughtUpP50, p50 } = shown[lane];
    step(`   ${lane}: ${caughtUp} caught up (p50 ${caughtUpP50} ms), live p50 ${p50} ms`);
    // Live: a poll's wait for its next 1 s tick at most, and a round trip;
    // a catch-up waited for the whole absence.
    check(p50 < 1500, `${lane}: this browser's p50 is ${p50} ms after the resume: the catch-up is in it`);
    check(caughtUpP50 > 1500, `${lane}: the catch-up's p50 is only ${caughtUpP50} ms`);
  }
  const tabId = await first.evaluate(() => import("/static/tab.js").then((m) => m.TAB_ID));
  const own = await until("the server to count this tab's backlog", async () => {
    const response = await fetch(new URL(`/api/tabs/${tabId}`, url));
    const body = await response.json();
    return LANES.every((lane) => body.techniques[lane].backlog.messages_delivered > 0) && body;
  });
  step(`   at the server, this tab's backlog: ${LANES.map((lane) => `${lane} ${own.techniques[lane].backlog.messages_delivered}`).join(", ")}`);
  // A long-poll, a stream: what waited more than a second for their
  // request was published while they were away. (A short poll's messages
  // all wait for its next tick, so the server keeps them live up to 10 s.)
  for (const lane of ["longpoll", "sse", "ws"]) {
    const p50 = own.techniques[lane].latency_ms.p50;
    check(p50 < 1500, `${lane}: this tab's p50 at the server is ${p50} ms after the resume: the catch-up is in it`);
  }

  mkdirSync(dirname(screenshot), { recursive: true });
  await first.screenshot({ path: screenshot });
  step(`screenshot in ${screenshot}`);
}

// Each lane's own (`data-stat`) and class (`data-class-stat`) figures.
function figures(page) {
  return page.evaluate(({ lanes, own, cls }) => {
    const read = (lane, attribute, name) =>
      Number(document.querySelector(`[data-lane="${lane}"] [${attribute}="${name}"]`).textContent);
    return Object.fromEntries(lanes.map((lane) => [lane, {
      own: Object.fromEntries(own.map((name) => [name, read(lane, "data-stat", name)])),
      cls: Object.fromEntries(cls.map((name) => [name, read(lane, "data-class-stat", name)])),
    }]));
  }, { lanes: LANES, own: OWN, cls: CLASS });
}

// How many times the page asked for its figures since the test began
// counting (the first call starts counting).
function secondRefreshes(page) {
  return page.evaluate(() => {
    if (window.figureRequests === undefined) {
      window.figureRequests = 0;
      new PerformanceObserver((list) => {
        window.figureRequests += list.getEntries().filter((e) => e.name.includes("/api/tabs/")).length;
      }).observe({ type: "resource" });
    }
    return window.figureRequests;
  });
}

async function pauseAll(page) {
  for (const lane of LANES) {
    const button = page.locator(`[data-lane="${lane}"] [data-action="pause"]`);
    if ((await button.getAttribute("aria-pressed")) === "false") await button.click();
  }
  await until("every lane paused", async () => (await page.locator(".lane.paused").count()) === LANES.length);
}

async function resumeAll(page) {
  for (const lane of LANES) {
    const button = page.locator(`[data-lane="${lane}"] [data-action="pause"]`);
    if ((await button.getAttribute("aria-pressed")) === "true") await button.click();
  }
}

async function serverStats() {
  const response = await fetch(new URL("/api/stats", url));
  return response.json();
}

// Looks at `test` every LOOK_EVERY_MS until it returns something truthy;
// fails after `timeout`.
async function until(what, test, timeout = STEP_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await test();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, LOOK_EVERY_MS));
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}
