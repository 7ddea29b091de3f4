// Two pushlab instances over one Redis, a page on each, in a real browser
// (headless Chromium through playwright-core): both headers name the
// broker, and a message published through the box of page A shows in
// every lane of page A and of page B — one stream, two servers.
//
//   node tests/browser/broker.test.mjs http://127.0.0.1:A/ http://127.0.0.1:B/ redis://127.0.0.1:PORT
//
// tests/browser.rs starts Redis and both instances and runs this as part of
// `cargo test`. Every wait is bounded.

import { LANES, STEP_MS, publish, recordMessages, runInBrowser, step, watch } from "./harness.mjs";

const [urlA, urlB, redisUrl] = process.argv.slice(2);
if (!urlA || !urlB || !redisUrl) {
  console.error("usage: node broker.test.mjs <url A> <url B> <redis url>");
  process.exit(2);
}

// Loads `url` in `page` and waits until all four lanes receive.
async function open(page, url, name) {
  watch(page, name);
  step(`loading ${name} at ${url}`);
  await page.goto(url, { timeout: STEP_MS });
  for (const lane of LANES) {
    await page.locator(`[data-lane="${lane}"] .messages li[data-id]`).first().waitFor({ timeout: STEP_MS });
  }
  return page;
}

async function main(context) {
  const a = await open(context.pages()[0] ?? (await context.newPage()), urlA, "page A");
  const b = await open(await context.newPage(), urlB, "page B");

  step("both headers name the broker");
  for (const page of [a, b]) {
    const line = page.locator("[data-broker]");
    await line.filter({ hasText: redisUrl }).waitFor({ timeout: STEP_MS });
  }

  step("publishing on A, seeing it in every lane of A and B");
  await recordMessages(a);
  await recordMessages(b);
  await publish(a, `one stream, two servers ${Date.now()}`, [a, b]);
}

await runInBrowser(main, "target/browser/broker-failure.png");
