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

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node page.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
// The longest one step may take.
const STEP_MS = 15000;
const LANES = ["poll", "longpoll", "sse", "ws"];

const problems = [];
const dialogs = [];

// Console errors, uncaught exceptions and dialogs on `page`, all recorded.
function watch(page, name) {
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`${name} console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`${name} uncaught: ${error.message}`));
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
}

function step(what) {
  console.log(`browser test: ${what}`);
}

// Records, per lane, the text of every message item added to its list —
// the lists show only the newest few, so one may scroll out before a
// locator looks.
function recordMessages(page) {
  return page.evaluate((lanes) => {
    window.seenByTest = Object.fromEntries(lanes.map((lane) => [lane, []]));
    for (const lane of lanes) {
      const list = document.querySelector(`[data-lane="${lane}"] .messages`);
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const item of change.addedNodes) {
            const text = item.querySelector?.(".text");
            if (text) window.seenByTest[lane].push({ text: text.textContent, html: text.innerHTML });
          }
        }
      }).observe(list, { childList: true });
    }
  }, LANES);
}

// Publishes `text` through the box; every lane must show it, as text.
async function publish(page, text) {
  const form = page.locator('form[data-action="publish"]');
  await form.locator('[name="author"]').fill("browser test");
  await form.locator('[name="text"]').fill(text);
  await form.locator('button[type="submit"]').click();
  const shown = await page.waitForFunction(
    ({ lanes, text }) => {
      const found = lanes.map((lane) => window.seenByTest[lane].find((seen) => seen.text === text));
      return found.every(Boolean) && found;
    },
    { lanes: LANES, text },
    { timeout: STEP_MS },
  );
  for (const seen of await shown.jsonValue()) {
    if (seen.html.includes("<")) throw new Error(`message text became markup: ${seen.html}`);
  }
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

  if (dialogs.length > 0) throw new Error(`a dialog opened: ${dialogs.join(", ")}`);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  step(`passed; screenshot in ${screenshot}`);
}

const profile = mkdtempSync(join(tmpdir(), "pushlab-chromium-"));
let failed = false;
let context = null;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 720 },
    timeout: STEP_MS,
  });
  await main(context);
} catch (error) {
  failed = true;
  console.error(`browser test FAILED: ${error.stack ?? error}`);
  if (problems.length > 0) console.error(problems.join("\n"));
  const page = context?.pages()[0];
  if (page) {
    const status = await page.locator('form[data-action="publish"] output').textContent().catch(() => "?");
    console.error(`publish box status: ${JSON.stringify(status)}`);
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-failure.png") }).catch(() => {});
  }
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
