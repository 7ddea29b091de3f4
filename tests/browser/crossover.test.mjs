// The crossover chart, drawn from the page's own run, in a real browser:
// with the generator off the chart says in words what to do; the rate set
// to 2 msg/s gives every technique a point at 2; set to 8, a second point
// each, and the chart draws four lines, one per technique in its lane's
// colour, named as the other charts name them, with the two rates on its
// axis; the other measures (requests per message, latency p50) draw their
// four lines too.
//
// The page is opened with `?crossover-hold=2`: a rate counts after 2 s
// instead of 10 (static/crossover.js), so the two rates take seconds, not
// half a minute.
//
//   node tests/browser/crossover.test.mjs http://127.0.0.1:PORT/ target/browser/crossover.png
//
// tests/browser.rs starts the server (generator off, controls open on
// loopback) and runs this as part of `cargo test`. Every wait is bounded;
// nothing sleeps in place of waiting for an event.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LANES, STEP_MS, runInBrowser, step, watch } from "./harness.mjs";
import { SHORT_NAME } from "../../static/techniques.js";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node crossover.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

const CHART = 'svg[data-chart="crossover"]';
const FIRST_RATE = 2;
const SECOND_RATE = 8;

// Sets the generator's rate through the page's own form, as a teacher does.
async function setRate(page, rate) {
  const form = page.locator('form[data-action="rate"]');
  await form.locator('[name="rate"]').fill(String(rate));
  await form.locator('[name="rate"]').press("Enter");
  await page.waitForFunction(
    async (rate) => (await (await fetch("/api/generator")).json()).rate === rate,
    rate,
    { timeout: STEP_MS, polling: 200 },
  );
}

// Waits until every technique has a point at `rate` (the chart's
// `data-points`: rate → techniques measured there).
async function waitForPoints(page, rate) {
  const started = Date.now();
  await page.waitForFunction(
    ({ chart, rate, lanes }) => {
      const points = JSON.parse(document.querySelector(chart).dataset.points ?? "{}");
      return lanes.every((lane) => points[rate]?.includes(lane));
    },
    { chart: CHART, rate, lanes: LANES },
    { timeout: STEP_MS },
  );
  step(`   every technique has its point at ${rate} msg/s after ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// Per technique, the dots and lines drawn, and the chart's words.
function drawn(page) {
  return page.evaluate(
    ({ chart, lanes }) => {
      const element = document.querySelector(chart);
      const count = (selector) => Object.fromEntries(lanes.map((lane) => [lane, element.querySelectorAll(`${selector}[data-series="${lane}"]`).length]));
      return {
        dots: count("circle.point"),
        lines: count("path.line"),
        legend: [...element.querySelectorAll("text.legend")].map((t) => t.textContent),
        ticks: [...element.querySelectorAll("text.tick")].map((t) => t.textContent),
        words: element.textContent,
      };
    },
    { chart: CHART, lanes: LANES },
  );
}

// Four lines, each through at least two dots, named as SHORT_NAME names them.
function checkFourLines(what, seen) {
  for (const lane of LANES) {
    if (seen.lines[lane] !== 1) throw new Error(`${what}: ${lane} has ${seen.lines[lane]} lines: ${JSON.stringify(seen)}`);
    if (seen.dots[lane] < 2) throw new Error(`${what}: ${lane} has ${seen.dots[lane]} dots: ${JSON.stringify(seen)}`);
  }
  const names = LANES.map((lane) => SHORT_NAME[lane]);
  if (JSON.stringify(seen.legend) !== JSON.stringify(names)) throw new Error(`${what}: the legend says ${JSON.stringify(seen.legend)}`);
}

await runInBrowser(async (context) => {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page");
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${url}?crossover-hold=2`, { timeout: STEP_MS });

  step("1. the generator off: the chart says what to do, in words");
  await page.waitForFunction((chart) => /change the rate/i.test(document.querySelector(chart).textContent), CHART, { timeout: STEP_MS });
  const before = await drawn(page);
  if (!/generator is off/.test(before.words)) throw new Error(`the chart says ${JSON.stringify(before.words)}`);

  step(`2. ${FIRST_RATE} msg/s: a point per technique, still words (one rate is no crossing)`);
  await setRate(page, FIRST_RATE);
  await waitForPoints(page, FIRST_RATE);
  const one = await drawn(page);
  if (!/another rate/.test(one.words)) throw new Error(`with one rate measured the chart says ${JSON.stringify(one.words)}`);

  step(`3. ${SECOND_RATE} msg/s: a second point per technique, four lines`);
  await setRate(page, SECOND_RATE);
  await waitForPoints(page, SECOND_RATE);
  const bytes = await drawn(page);
  checkFourLines("bytes per message", bytes);
  for (const tick of [String(FIRST_RATE), `${SECOND_RATE} msg/s`]) {
    if (!bytes.ticks.includes(tick)) throw new Error(`no "${tick}" on the rate axis: ${JSON.stringify(bytes.ticks)}`);
  }
  const titles = await page.locator(`${CHART} circle.point title`).allTextContents();
  step(`   ${titles.join("; ")}`);

  step("4. the other measures draw their four lines too");
  for (const measure of ["requests", "p50"]) {
    await page.locator("[data-crossover-measure]").selectOption(measure);
    checkFourLines(measure, await drawn(page));
  }
  await page.locator("[data-crossover-measure]").selectOption("bytes");

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.locator("figure.crossover").screenshot({ path: screenshot });
  step(`screenshot in ${screenshot}`);
}, screenshot.replace(/\.png$/, "-failure.png"));
