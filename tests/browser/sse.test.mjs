// The SSE lane reconnects as the SSE chapter teaches, in a real browser
// (headless Chromium through playwright-core), against a real pushlab that
// allows one SSE stream at a time (max_sse = 1). The page is loaded through
// a TCP proxy (proxy.mjs) that can really break the stream's connection
// and shows what the browser sent when it came back:
//
// 1. The stream breaks: the browser itself reconnects, to the same URL,
//    with `Last-Event-ID` equal to the last id the lane showed; a message
//    published while it was away arrives, and the lane's ids run on with
//    none lost and none twice.
// 2. The stream breaks and another client takes the one slot: the
//    browser's reconnect gets 503, EventSource gives up, and the lane steps
//    in with its own backoff and `?since=<last id>`; it recovers once the
//    slot is free, again without a hole or a repeat.
// 3. A stream the lane opened with `?since=` breaks: the browser's
//    reconnect still sends the right `Last-Event-ID`.
// 4. Pause closes the stream; resume opens one with `?since=<last id>`.
//
//   node tests/browser/sse.test.mjs http://127.0.0.1:PORT/ target/browser/sse.png
//
// tests/browser.rs starts the server and runs this as part of `cargo test`.
// Every wait is bounded.

import { mkdirSync } from "node:fs";
import http from "node:http";
import { dirname } from "node:path";
import { STEP_MS, runInBrowser, step, watch } from "./harness.mjs";
import { Proxy } from "./proxy.mjs";

const [serverUrl, screenshot] = process.argv.slice(2);
if (!serverUrl || !screenshot) {
  console.error("usage: node sse.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

// What Chromium logs about the failures this test causes on purpose.
const EXPECTED_CONSOLE_ERRORS = [/status of 503/, /ERR_INCOMPLETE_CHUNKED_ENCODING/];

// How often the test looks at the server's figures while it waits.
const LOOK_EVERY_MS = 50;

async function stats() {
  const response = await fetch(new URL("/api/stats", serverUrl));
  return response.json();
}

// Publishes one message straight to the server (not through the page).
async function publishDirect(text) {
  const response = await fetch(new URL("/api/messages", serverUrl), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ author: "sse test", text }),
  });
  if (response.status !== 201) throw new Error(`publishing answered ${response.status}`);
  return (await response.json()).id;
}

// Waits until `check()` (async) is true, at most STEP_MS.
async function until(what, check) {
  const deadline = Date.now() + STEP_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, LOOK_EVERY_MS));
  }
}

// A bounded wait for a promise.
function within(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// An SSE stream of this test's own, straight to the server, holding its one
// slot until `close()`.
function holdTheSlot() {
  return within(
    "a stream of the test's own",
    new Promise((resolve, reject) => {
      const request = http.get(new URL("/api/sse", serverUrl), (response) => {
        response.resume(); // read and discard: a client that reads
        if (response.statusCode !== 200) reject(new Error(`the test's own stream got ${response.statusCode}`));
        else resolve({ close: () => request.destroy() });
      });
      request.on("error", () => {}); // destroyed on purpose
    }),
  );
}

// The ids the SSE lane has shown, in order (recorded from page load on).
function idsShown(page) {
  return page.evaluate(() => window.sseIds.slice());
}

// None lost, none twice: every id is the one before plus one.
function assertRunsOn(ids, what) {
  for (let i = 1; i < ids.length; i++) {
    if (ids[i] !== ids[i - 1] + 1) {
      throw new Error(`${what}: the lane showed #${ids[i - 1]} then #${ids[i]} (${ids.join(" ")})`);
    }
  }
}

// Waits until the lane has shown `id` and one more after it.
async function waitPast(page, id) {
  await page.waitForFunction((id) => window.sseIds.includes(id) && window.sseIds.at(-1) > id, id, { timeout: STEP_MS });
}

function lastEventIdOf(request, expected, what) {
  if (request.lastEventId !== String(expected)) {
    throw new Error(`${what}: Last-Event-ID was ${JSON.stringify(request.lastEventId)}, the lane's last id ${expected}`);
  }
}

async function main(context) {
  const proxy = await Proxy.start(serverUrl);
  try {
    await run(context, proxy);
  } finally {
    proxy.close();
  }
}

async function run(context, proxy) {
  const page = context.pages()[0] ?? (await context.newPage());
  // The 503s and broken streams this test causes, which Chromium reports.
  watch(page, "page", EXPECTED_CONSOLE_ERRORS);
  await page.addInitScript(() => {
    window.sseIds = [];
    addEventListener("DOMContentLoaded", () => {
      const list = document.querySelector('[data-lane="sse"] .messages');
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const item of change.addedNodes) if (item.dataset?.id) window.sseIds.push(Number(item.dataset.id));
        }
      }).observe(list, { childList: true });
    });
  });
  const sse = page.locator('[data-lane="sse"]');

  step(`loading ${proxy.url} (a proxy in front of ${serverUrl})`);
  await page.goto(proxy.url, { timeout: STEP_MS });
  await page.waitForFunction(() => window.sseIds.length >= 3, null, { timeout: STEP_MS });
  const firstPath = proxy.sseRequests[0].path;

  step("1. the stream breaks: the browser reconnects by itself with Last-Event-ID");
  let held = proxy.holdNextSse();
  if (proxy.dropSse() === 0) throw new Error("no SSE connection to break");
  const whileAway = await publishDirect("published while the stream was down");
  let { request, release } = await within("the browser's reconnect", held);
  let ids = await idsShown(page);
  lastEventIdOf(request, ids.at(-1), "the browser's reconnect");
  if (request.path !== firstPath) throw new Error(`the browser reconnected to ${request.path}, not ${firstPath}`);
  await sse.locator(".timeline .label.browser-retry").filter({ hasText: `Last-Event-ID: ${ids.at(-1)}` }).first().waitFor({ timeout: STEP_MS });
  release();
  await waitPast(page, whileAway);
  assertRunsOn(await idsShown(page), "after the browser's reconnect");

  step("2. the slot is taken: 503, EventSource gives up, the lane retries with its backoff and ?since=");
  held = proxy.holdNextSse();
  proxy.dropSse();
  await until("the server to free the broken stream's slot", async () => (await stats()).techniques.sse.connections_open === 0);
  const other = await holdTheSlot();
  ({ request, release } = await within("the browser's reconnect", held));
  ids = await idsShown(page);
  lastEventIdOf(request, ids.at(-1), "the browser's second reconnect");
  const laneRetriesBefore = proxy.sseRequests.length;
  release(); // answered 503: the slot is the test's
  await sse.locator(".timeline .label.mark.reconnect").filter({ hasText: "browser gave up" }).first().waitFor({ timeout: STEP_MS });
  await until("the lane's own retry", async () => proxy.sseRequests.length > laneRetriesBefore);
  const laneRetry = proxy.sseRequests[laneRetriesBefore];
  const since = new URLSearchParams(laneRetry.path.split("?")[1]).get("since");
  if (since !== String(ids.at(-1))) throw new Error(`the lane retried ${laneRetry.path}, not since=${ids.at(-1)}`);
  const refusedLabel = await sse.locator(".timeline .label.failed:not(.mark)").last().textContent();
  step(`   the lane drew the refusal as ${JSON.stringify(refusedLabel)}`);
  const whileFull = await publishDirect("published while the server was full");
  other.close();
  await waitPast(page, whileFull);
  assertRunsOn(await idsShown(page), "after the lane's own retries");

  step("3. a stream the lane opened with ?since= breaks: the browser's reconnect sends Last-Event-ID");
  held = proxy.holdNextSse();
  proxy.dropSse();
  ({ request, release } = await within("the browser's reconnect", held));
  ids = await idsShown(page);
  lastEventIdOf(request, ids.at(-1), "the reconnect of a stream opened with ?since=");
  const resentBefore = await sse.locator(".timeline .label.resent").count();
  release();
  const afterResume = await publishDirect("published after a reconnect with ?since=");
  await waitPast(page, afterResume);
  assertRunsOn(await idsShown(page), "after the reconnect of a stream opened with ?since=");
  const resent = (await sse.locator(".timeline .label.resent").count()) > resentBefore;
  step(`   the server ${resent ? "re-sent messages the lane had (its URL's since= won over Last-Event-ID); the lane skipped them" : "resumed from Last-Event-ID"}`);

  step("4. pause closes the stream; resume opens one with ?since=");
  await sse.locator('[data-action="pause"]').click();
  await until("the paused stream to close", async () => (await stats()).techniques.sse.connections_open === 0);
  ids = await idsShown(page);
  const whilePaused = await publishDirect("published while the lane was paused");
  const beforeResume = proxy.sseRequests.length;
  await sse.locator('[data-action="pause"]').click();
  await waitPast(page, whilePaused);
  const resumed = proxy.sseRequests[beforeResume];
  if (new URLSearchParams(resumed.path.split("?")[1]).get("since") !== String(ids.at(-1))) {
    throw new Error(`the lane resumed with ${resumed.path}, not since=${ids.at(-1)}`);
  }
  assertRunsOn(await idsShown(page), "after pause and resume");

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  step(`screenshot in ${screenshot}`);
}

await runInBrowser(main, screenshot.replace(/\.png$/, "-failure.png"));
