// The page's settings act at once, and its controls say what they act on,
// in a real browser:
// 1. changing the long-poll timeout drops the parked request and asks again
//    at once with the new timeout (not after the old one ran out);
// 2. every pause button and setting has a name that says which lane it is
//    for; the message lists are silent and one polite region speaks a
//    summary; a listed message reads "#id · author: text";
// 3. the page has an icon of its own.
//
//   node tests/browser/controls.test.mjs http://127.0.0.1:PORT/ target/browser/controls.png
//
// tests/browser.rs starts the server and runs this as part of `cargo test`.
// Every wait is bounded.

import { LANES, STEP_MS, runInBrowser, step, watch } from "./harness.mjs";
import { TECHNIQUES } from "../../static/techniques.js";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node controls.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

const TITLES = Object.fromEntries(TECHNIQUES.map((t) => [t.name, t.title]));

// The first long-poll sent at or after `since` with `timeout`, within 2 s.
async function firstLongpollAfter(since, timeout) {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    const fresh = longpolls.find((r) => r.at >= since && r.timeout === timeout);
    if (fresh) return fresh;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

// Every long-poll request the page sends.
const longpolls = [];

await runInBrowser(async (context) => {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page");
  page.on("request", (request) => {
    const asked = new URL(request.url());
    if (asked.pathname === "/api/longpoll") longpolls.push({ at: Date.now(), timeout: asked.searchParams.get("timeout") });
  });
  await page.goto(url, { timeout: STEP_MS });
  // The generator is off: the long-poll stays parked until the test acts.
  await page.locator('[data-lane="longpoll"] [data-connection], [data-lane="longpoll"] .timeline').first().waitFor({ timeout: STEP_MS });
  const parked = Date.now();
  while (longpolls.length === 0 && Date.now() - parked < STEP_MS) await new Promise((r) => setTimeout(r, 50));
  await new Promise((resolve) => setTimeout(resolve, 500)); // parked, not just sent

  step("1. a new long-poll timeout is asked with at once");
  const select = page.locator('select[name="longpoll-timeout"]');
  const options = await select.locator("option").evaluateAll((all) => all.map((o) => o.value));
  const current = await select.inputValue();
  const other = options.find((value) => value !== current && Number(value) > 1);
  const changedAt = Date.now();
  await select.selectOption(other);
  const asked = await firstLongpollAfter(changedAt, other);
  if (!asked) throw new Error(`no long-poll with timeout=${other} within 2 s of the change: ${JSON.stringify(longpolls.slice(-3))}`);
  step(`   asked again ${asked.at - changedAt} ms after the change`);

  step("2. names say which lane; one polite summary; separators");
  for (const lane of LANES) {
    await page.getByRole("button", { name: `pause ${TITLES[lane]}`, exact: true }).waitFor({ timeout: STEP_MS });
  }
  await page.getByRole("combobox", { name: "Short polling: ask every" }).waitFor({ timeout: STEP_MS });
  await page.getByRole("combobox", { name: "Long-polling: server waits at most" }).waitFor({ timeout: STEP_MS });
  const pause = page.getByRole("button", { name: "pause WebSocket", exact: true });
  await pause.click();
  await page.getByRole("button", { name: "resume WebSocket", exact: true }).click();
  const live = await page.evaluate(() => [...document.querySelectorAll("[aria-live]")].map((e) => e.getAttribute("aria-live")));
  if (live.length !== 1 || live[0] !== "polite") throw new Error(`live regions: ${JSON.stringify(live)}`);
  await page.evaluate(() =>
    fetch("/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ author: "tester", text: "hello" }),
    }),
  );
  const listed = page.locator('[data-lane="poll"] .messages li[data-id]').first();
  await listed.waitFor({ timeout: STEP_MS });
  const item = await listed.textContent();
  if (!/^#\d+ · .+: .+/.test(item)) throw new Error(`a listed message reads ${JSON.stringify(item)}`);

  step("3. an icon of its own");
  const icon = await page.evaluate(async () => {
    const href = document.querySelector('link[rel="icon"]').href;
    const response = await fetch(href);
    return { status: response.status, type: response.headers.get("content-type") };
  });
  if (icon.status !== 200 || !icon.type.startsWith("image/svg+xml")) throw new Error(`icon: ${JSON.stringify(icon)}`);
}, screenshot);
