// What the browser tests (and cost.mjs, the page's cost meter) share:
// launching Debian's headless Chromium through playwright-core, recording console errors and dialogs, and
// publishing through the page's box until every lane shows the message.
// page.test.mjs (one server) and broker.test.mjs (two instances over one
// Redis) are written on it. Every wait is bounded.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { NAMES } from "../../static/techniques.js";

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
export const STEP_MS = 15000;
// The techniques, as the page lists them (static/techniques.js).
export const LANES = NAMES;
// Each lane's endpoint, in the order of LANES.
export const LANE_PATHS = ["/api/poll", "/api/longpoll", "/api/sse", "/ws"];

// Console errors and uncaught exceptions of every watched page, and every
// dialog that opened: a test fails if any is left at the end.
export const problems = [];
export const dialogs = [];

// Console errors, uncaught exceptions and dialogs on `page`, all recorded —
// but console errors that match one of `expected` (regular expressions), the
// browser's own reports of failures a test causes on purpose.
export function watch(page, name, expected = []) {
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    if (!expected.some((pattern) => pattern.test(text))) problems.push(`${name} console error: ${text}`);
  });
  page.on("pageerror", (error) => problems.push(`${name} uncaught: ${error.message}`));
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
}

export function step(what) {
  console.log(`browser test: ${what}`);
}

// Records, per lane, the text of every message item added to its list —
// the lists show only the newest few, so one may scroll out before a
// locator looks.
export function recordMessages(page) {
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

// Publishes `text` through the box of `page`, sent over `via` ("post" or
// "ws"); every lane of every page in `seenOn` (recording, see
// recordMessages) must show it, as text.
export async function publish(page, text, seenOn = [page], via = "post") {
  const form = page.locator('form[data-action="publish"]');
  await form.locator('[name="author"]').fill("browser test");
  await form.locator('[name="text"]').fill(text);
  await form.locator('[name="via"]').selectOption(via);
  await form.locator('button[type="submit"]').click();
  for (const viewer of seenOn) {
    const shown = await viewer.waitForFunction(
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
}

// Runs `main(context)` in a fresh headless Chromium profile; exits 0 if it
// passed with no console error or dialog left, 1 otherwise (after a
// screenshot of the first page to `failureScreenshot`).
export async function runInBrowser(main, failureScreenshot) {
  let failed = false;
  let browser = null;
  let context = null;
  try {
    browser = await launchBrowser();
    context = browser.context;
    await main(context);
    if (dialogs.length > 0) throw new Error(`a dialog opened: ${dialogs.join(", ")}`);
    if (problems.length > 0) throw new Error(problems.join("\n"));
  } catch (error) {
    failed = true;
    console.error(`browser test FAILED: ${error.stack ?? error}`);
    if (problems.length > 0) console.error(problems.join("\n"));
    const page = context?.pages()[0];
    if (page) {
      const status = await page.locator('form[data-action="publish"] output').textContent().catch(() => "?");
      console.error(`publish box status: ${JSON.stringify(status)}`);
      await page.screenshot({ path: failureScreenshot }).catch(() => {});
    }
  } finally {
    await browser?.close();
  }
  process.exit(failed ? 1 : 0);
}

// Headless Chromium in a fresh profile, 1280×720: `{ context, close }`.
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "pushlab-chromium-"));
  const removeProfile = () => rmSync(profile, { recursive: true, force: true });
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 720 },
      timeout: STEP_MS,
    });
    const close = async () => {
      await context.close().catch(() => {});
      removeProfile();
    };
    return { context, close };
  } catch (error) {
    removeProfile();
    throw error;
  }
}
