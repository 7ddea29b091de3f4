// The page in a real browser: headless Chromium (Debian's, driven by
// playwright-core) loads the page from a running pushlab, waits until all
// four lanes receive messages, publishes through the box and sees the
// message arrive in every lane, publishes HTML and sees it shown as text
// (no dialog, no element), pauses and resumes a lane, sets the generator
// rate (and sees a bad one refused), notices a second tab, and saves a
// screenshot at 1280×720. Fails on any console error.
//
//   node tests/browser/page.test.mjs http://127.0.0.1:PORT/ target/browser/page.png
//
// tests/browser.rs starts the server and runs this as part of `cargo test`.
// Every wait is bounded; nothing sleeps in place of waiting for an event.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LANES, STEP_MS, dialogs, publish, recordMessages, runInBrowser, step, watch } from "./harness.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node page.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

async function main(context) {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page");
  await page.setViewportSize({ width: 1280, height: 720 });

  step(`loading ${url}`);
  await page.goto(url, { timeout: STEP_MS });

  step("waiting for messages in all four lanes");
  for (const lane of LANES) {
    await page.locator(`[data-lane="${lane}"] .messages li[data-id]`).first().waitFor({ timeout: STEP_MS });
  }

  step("a server of its own shows no broker line");
  if (await page.locator("[data-broker]").isVisible()) throw new Error("a broker line without a broker");

  await recordMessages(page);
  step("publishing through the box");
  await publish(page, `hello from the browser test ${Date.now()}`);

  step("publishing HTML, which must stay text");
  const html = "<img src=x onerror=alert(1)>";
  await publish(page, html);
  const injected = await page.locator(".messages img").count();
  if (injected > 0) throw new Error(`${injected} <img> elements were created from message text`);
  if (dialogs.length > 0) throw new Error(`a dialog opened: ${dialogs.join(", ")}`);

  step("checking the figures");
  await page.waitForFunction(
    (lanes) =>
      lanes.every((lane) => {
        const stat = (name) => document.querySelector(`[data-lane="${lane}"] [data-stat="${name}"]`).textContent;
        return Number(stat("requests")) > 0 && Number(stat("messages")) > 0 && Number(stat("bytes")) > 0 && !Number.isNaN(Number(stat("p50")));
      }),
    LANES,
    { timeout: STEP_MS },
  );

  step("pausing and resuming the SSE lane");
  const sse = page.locator('[data-lane="sse"]');
  await sse.locator('[data-action="pause"]').click();
  await sse.locator('[data-connection]').filter({ hasText: "paused" }).waitFor({ timeout: STEP_MS });
  const lastBeforePause = Number(await sse.locator(".messages li[data-id]").first().getAttribute("data-id"));
  await sse.locator('[data-action="pause"]').click();
  await page.waitForFunction(
    (last) => Number(document.querySelector('[data-lane="sse"] .messages li[data-id]').dataset.id) > last,
    lastBeforePause,
    { timeout: STEP_MS },
  );

  step("setting the generator rate: a refused value, then a good one");
  const rate = page.locator('form[data-action="rate"]');
  await rate.locator('[name="rate"]').fill("500");
  await rate.locator('[name="rate"]').press("Enter");
  await rate.locator("output").filter({ hasText: "100" }).waitFor({ timeout: STEP_MS });
  await rate.locator('[name="rate"]').fill("4");
  await rate.locator('[name="rate"]').press("Enter");
  await rate.locator("output").filter({ hasText: "set" }).waitFor({ timeout: STEP_MS });

  step("opening a second tab, which the first must notice");
  const second = await context.newPage();
  watch(second, "second tab");
  await second.goto(url, { timeout: STEP_MS });
  await page.locator('[data-notice="tabs"]').waitFor({ state: "visible", timeout: STEP_MS });
  await second.close({ runBeforeUnload: true });
  await page.locator('[data-notice="tabs"]').waitFor({ state: "hidden", timeout: STEP_MS });

  step("waiting for a few more deliveries per lane, then the screenshot");
  await page.waitForFunction(
    (lanes) => lanes.every((lane) => document.querySelectorAll(`[data-lane="${lane}"] .timeline .arrow.news`).length >= 4),
    LANES,
    { timeout: STEP_MS },
  );
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-full.png"), fullPage: true });

  step(`screenshot in ${screenshot}`);
}

await runInBrowser(main, screenshot.replace(/\.png$/, "-failure.png"));
