// The page in a real browser: headless Chromium (Debian's, driven by
// playwright-core) loads the page from a running pushlab, waits until all
// four lanes receive messages, publishes through the box and sees the
// message arrive in every lane, publishes HTML and sees it shown as text
// (no dialog, no element), publishes over the WebSocket (one frame up /ws,
// no POST; refused while that lane is paused; an error frame shown as an
// error), pauses and resumes a lane, sets the generator
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

  // Every frame the page sends up /ws, and every POST it makes, as the
  // browser's own network layer reports them (DevTools shows the same).
  const framesUp = [];
  const posts = [];
  page.on("websocket", (socket) => {
    if (new URL(socket.url()).pathname !== "/ws") return;
    socket.on("framesent", (frame) => framesUp.push(String(frame.payload)));
  });
  page.on("request", (request) => {
    if (request.method() === "POST") posts.push(new URL(request.url()).pathname);
  });

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

  step("publishing over the WebSocket: one frame up /ws, no POST, every lane receives it");
  const form = page.locator('form[data-action="publish"]');
  const overWs = `up the socket ${Date.now()}`;
  const postsBefore = posts.length;
  await publish(page, overWs, [page], "ws");
  const up = framesUp.map((payload) => JSON.parse(payload)).find((frame) => frame.text === overWs);
  if (!up || up.type !== "publish" || up.author !== "browser test") {
    throw new Error(`no publish frame went up /ws: ${JSON.stringify(framesUp)}`);
  }
  if (posts.length !== postsBefore) throw new Error(`publishing over the WebSocket also POSTed: ${posts.slice(postsBefore)}`);
  await form.locator("output").filter({ hasText: /^sent #\d+ over the WebSocket$/ }).waitFor({ timeout: STEP_MS });

  step("over a paused WebSocket lane the box says so, and sends nothing");
  const ws = page.locator('[data-lane="ws"]');
  await ws.locator('[data-action="pause"]').click();
  const framesBefore = framesUp.length;
  await form.locator('[name="text"]').fill("never sent");
  await form.locator('button[type="submit"]').click();
  await form.locator("output").filter({ hasText: "paused" }).waitFor({ timeout: STEP_MS });
  if (framesUp.length !== framesBefore || posts.length !== postsBefore) throw new Error("a paused WebSocket lane still sent, or fell back to POST");
  await ws.locator('[data-action="pause"]').click();
  await ws.locator("[data-connection]").filter({ hasText: "open" }).waitFor({ timeout: STEP_MS });

  step("an error frame back (over the publish rate) is shown as an error");
  await form.locator('[name="text"]').fill("one of a burst");
  await page.evaluate(() => {
    const box = document.querySelector('form[data-action="publish"]');
    for (let i = 0; i < 25; i++) box.requestSubmit();
  });
  await form.locator("output").filter({ hasText: "messages per second" }).waitFor({ timeout: STEP_MS });
  await form.locator('[name="via"]').selectOption("post");

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
