// The page over HTTPS (pushlab --tls self-signed) in a real browser:
// 1. each lane shows the HTTP it runs on, as Resource Timing reports it:
//    h2 for the poll, the long-poll and the event stream, http/1.1 for the
//    WebSocket (no RFC 8441), and the WebSocket lane still gets messages;
//    the byte figures of the HTTP/2 lanes say they are estimates, and the
//    six-connection block says there is no such limit here; the wire
//    view gives a poll's heads as the counters' HPACK estimate;
// 2. the six-connection limit is gone: with the lanes' own requests
//    running, ten more event streams open at once, and a poll answers
//    while they are all open (over HTTP/1.1 the fifth stream would wait);
// 3. so the tabs notice, which over HTTP/1.1 warns of the six connections
//    as soon as a second tab of the page opens, stays hidden in both tabs
//    once each has counted the other.
//
//   node tests/browser/http2.test.mjs https://127.0.0.1:PORT/ target/browser/http2.png
//
// Chromium runs with --ignore-certificate-errors: the certificate is the
// one the server made at start. tests/browser.rs starts the server
// (generator on) and runs this as part of `cargo test`. Every wait is bounded.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { STEP_MS, problems, step, watch } from "./harness.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node http2.test.mjs <https-url> <screenshot.png>");
  process.exit(2);
}

// More streams than HTTP/1.1's six connections per origin.
const STREAMS = 10;

const EXPECTED = { poll: "h2", longpoll: "h2", sse: "h2", ws: "http/1.1" };

async function protocols(page) {
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll("[data-lane] [data-http-version]")].map((span) => [
        span.closest("[data-lane]").dataset.lane,
        span.textContent,
      ]),
    ),
  );
}

const profile = mkdtempSync(join(tmpdir(), "pushlab-chromium-"));
let context = null;
let failed = false;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--ignore-certificate-errors"],
    viewport: { width: 1280, height: 720 },
    timeout: STEP_MS,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page");
  await page.goto(url, { timeout: STEP_MS });

  step("1. each lane shows its protocol: h2, and http/1.1 for the WebSocket");
  for (const lane of Object.keys(EXPECTED)) {
    await page.locator(`[data-lane="${lane}"] .messages li[data-id]`).first().waitFor({ timeout: STEP_MS });
  }
  const deadline = Date.now() + STEP_MS;
  let shown = await protocols(page);
  while (JSON.stringify(shown) !== JSON.stringify(EXPECTED) && Date.now() < deadline) {
    await page.waitForTimeout(100);
    shown = await protocols(page);
  }
  step(`   ${JSON.stringify(shown)}`);
  if (JSON.stringify(shown) !== JSON.stringify(EXPECTED)) {
    throw new Error(`the lanes show ${JSON.stringify(shown)}, not ${JSON.stringify(EXPECTED)}`);
  }
  // Over HTTP/2 the byte figures are the server's estimates, and say so.
  const estimated = await page.evaluate(() =>
    [...document.querySelectorAll("[data-lane] .label[data-estimated]")].map((label) => label.closest("[data-lane]").dataset.lane),
  );
  step(`   byte figures marked estimated: ${JSON.stringify(estimated)}`);
  for (const lane of ["poll", "longpoll", "sse"]) {
    if (estimated.filter((name) => name === lane).length !== 2) throw new Error(`${lane}'s byte figures are not marked estimated`);
  }
  if (estimated.includes("ws")) throw new Error("the WebSocket's byte figures, counted exactly, are marked estimated");
  // No six connections to fill: the block says so and offers no button.
  const six = await page.evaluate(() => {
    const block = document.querySelector("[data-six]");
    return {
      multiplexed: "multiplexed" in block.dataset,
      buttons: [...block.querySelectorAll("button")].filter((button) => !button.hidden).length,
      says: block.querySelector("[data-six-status]").textContent,
    };
  });
  step(`   six connections: ${JSON.stringify(six)}`);
  if (!six.multiplexed || six.buttons !== 0 || !six.says.includes("HTTP/2")) {
    throw new Error(`over HTTP/2 the six-connection block still offers its demonstration: ${JSON.stringify(six)}`);
  }

  step("   the wire view gives a poll's heads as HPACK's estimate beside their decoded text");
  const arrow = page.locator('[data-lane="poll"] .timeline .hit[data-exchange]').last();
  await arrow.waitFor({ state: "attached", timeout: STEP_MS });
  await arrow.dispatchEvent("click");
  // The arrow clicked was not recorded (nothing is while no view is open):
  // the panel shows the lane's next exchange, a poll a second later.
  const heads = page.locator("[data-wire][data-http2] .wire-side h3");
  await heads.first().waitFor({ timeout: STEP_MS });
  const sizes = await heads.allTextContents();
  step(`   ${JSON.stringify(sizes)}`);
  if (sizes.length !== 2 || !sizes.every((h3) => h3.includes("≈") && h3.includes("HPACK's estimate"))) {
    throw new Error(`the wire view's heads over HTTP/2 are not given as estimates: ${JSON.stringify(sizes)}`);
  }
  await page.keyboard.press("Escape");

  step(`2. ${STREAMS} more event streams open at once, and a poll still answers`);
  const opened = await page.evaluate(
    ({ streams, bound }) =>
      new Promise((resolve, reject) => {
        const sources = [];
        let open = 0;
        const timer = setTimeout(() => reject(new Error(`${open} of ${streams} streams opened`)), bound);
        for (let i = 0; i < streams; i++) {
          const source = new EventSource("/api/sse");
          sources.push(source);
          source.onopen = async () => {
            if (++open < streams) return;
            clearTimeout(timer);
            const started = performance.now();
            const answer = await fetch("/api/poll");
            const ms = performance.now() - started;
            for (const s of sources) s.close();
            resolve({ open, status: answer.status, ms });
          };
        }
      }),
    { streams: STREAMS, bound: STEP_MS },
  );
  step(`   ${JSON.stringify(opened)}`);
  if (opened.status !== 200) throw new Error(`the poll among open streams answered ${opened.status}`);

  step("3. a second tab: both count two tabs, and neither warns of six connections");
  const second = await context.newPage();
  watch(second, "second tab");
  await second.goto(url, { timeout: STEP_MS });
  for (const [name, tab] of [["first", page], ["second", second]]) {
    const notice = tab.locator('[data-notice="tabs"]');
    // Counted both tabs, or (the bug) showing the notice: whichever first.
    await tab.waitForFunction(
      () => {
        const notice = document.querySelector('[data-notice="tabs"]');
        return notice.dataset.tabs === "2" || !notice.hidden;
      },
      null,
      { timeout: STEP_MS },
    );
    const seen = { tabs: await notice.getAttribute("data-tabs"), hidden: await notice.evaluate((n) => n.hidden), text: await notice.textContent() };
    step(`   ${name} tab: ${JSON.stringify(seen)}`);
    if (!seen.hidden) throw new Error(`the ${name} tab warns over HTTP/2: ${seen.text.trim()}`);
  }
  await second.close();

  await page.screenshot({ path: screenshot });
  if (problems.length > 0) throw new Error(problems.join("\n"));
} catch (error) {
  failed = true;
  console.error(`browser test FAILED: ${error.stack ?? error}`);
  const page = context?.pages()[0];
  await page?.screenshot({ path: screenshot }).catch(() => {});
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
