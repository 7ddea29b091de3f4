// What the page itself costs: opens it in headless Chromium for a while and
// counts the HTTP requests it makes and the bytes on the wire, then saves a
// screenshot. Not a test (nothing to pass); a measuring tool for the docs.
//
//   node tests/browser/cost.mjs http://127.0.0.1:8080/ 60 target/browser/cost.png
//
// Requests are counted from the browser (playwright's request events).
// Bytes come from two places: the server's own counters (GET /api/stats,
// headers and framing included) for the four techniques — an SSE response
// or a WebSocket never "finishes", so the browser cannot size it — plus the
// browser's sizes of everything else the page fetches (figures, clock,
// publishing). Run it against a server no one else is using.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LANES, LANE_PATHS, launchBrowser } from "./harness.mjs";

const [url, seconds = "60", screenshot = "target/browser/cost.png"] = process.argv.slice(2);

async function techniqueBytes() {
  const stats = await (await fetch(new URL("/api/stats", url))).json();
  return LANES.reduce((sum, t) => sum + stats.techniques[t].bytes_in + stats.techniques[t].bytes_out, 0);
}

const browser = await launchBrowser();
const context = browser.context;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const byPath = new Map();
  let otherBytes = 0;
  let counting = false;
  page.on("request", (request) => {
    if (!counting) return;
    const path = new URL(request.url()).pathname;
    byPath.set(path, (byPath.get(path) ?? 0) + 1);
  });
  page.on("requestfinished", async (request) => {
    if (!counting) return;
    const path = new URL(request.url()).pathname;
    if (LANE_PATHS.includes(path)) return;
    const sizes = await request.sizes().catch(() => null);
    if (sizes) otherBytes += sizes.requestHeadersSize + sizes.requestBodySize + sizes.responseHeadersSize + sizes.responseBodySize;
  });
  await page.goto(url);
  // Count from the first figures on: the page is loaded and every lane runs.
  await page.waitForFunction(() => document.querySelector('[data-stat="requests"]').textContent !== "0", null, { timeout: 15000 });
  const before = await techniqueBytes();
  counting = true;
  const started = Date.now();
  await page.waitForTimeout(Number(seconds) * 1000); // the measuring period itself, not a synchronisation
  counting = false;
  const minutes = (Date.now() - started) / 60000;
  const technique = (await techniqueBytes()) - before;
  const requests = [...byPath.values()].reduce((a, b) => a + b, 0);
  const perMinute = (n) => (n / minutes).toFixed(0);
  console.log(`over ${(minutes * 60).toFixed(0)} s:`);
  for (const [path, n] of [...byPath].sort((a, b) => b[1] - a[1])) console.log(`  ${path}: ${perMinute(n)} requests/min`);
  console.log(`  all: ${perMinute(requests)} requests/min`);
  console.log(`  bytes: ${perMinute(technique)} B/min for the four techniques (server counters), ${perMinute(otherBytes)} B/min for the rest (figures, clock), ${perMinute(technique + otherBytes)} B/min in all`);
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
} finally {
  await browser.close();
}
