// Readable from the back row, in a real browser: the page at the sizes a
// classroom projects it — 1280×720, 1024×768, 1920×1080, and 1280×720 at
// 150 % zoom (which is a 853×480 CSS viewport: zoom enlarges CSS pixels;
// deviceScaleFactor would not) — checked as a student at the back sees it:
//
// 1. the four lanes side by side on one row, not overlapping, together at
//    least 90 % of the screen's width, reaching down to at least 90 % of
//    its height, and nothing wider than the screen;
// 2. no lane title, table heading, caption, label or button cut (its
//    text fits its box; only what users wrote may end in "…"), and no
//    text of a lane spilling into the next one;
// 3. no text smaller than 14 CSS px at 1280×720 and 1920×1080 (12 px, the
//    page's floor, when zoomed or on a 1024 screen): every visible element
//    with text, HTML or SVG (an SVG text's size as drawn, its font size
//    times the drawing's scale), and every field and button;
// 4. no word on a line: in every SVG of the page, no text's box meets a
//    line (dialogue arrows, waits, marks, lifelines, chart grids) where
//    that line is visible — with the dialogues full of notes: counts,
//    "you: #id" for a message published here, a pause and a resume.
//
// The zoomed size is reached the way zooming does it, by resizing a page
// already open, so the dialogues redraw for their new width. Screenshots
// go to target/browser/layout-<size>.png.
//
//   node tests/browser/layout.test.mjs http://127.0.0.1:PORT/ target/browser/layout.png
//
// tests/browser.rs starts the server (generator at 4 msg/s) and runs this
// as part of `cargo test`. Every wait is bounded.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LANES, STEP_MS, runInBrowser, step, watch } from "./harness.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node layout.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

const SIZES = [
  { name: "1280x720", width: 1280, height: 720, minFont: 14 },
  { name: "1024x768", width: 1024, height: 768, minFont: 12 },
  { name: "1920x1080", width: 1920, height: 1080, minFont: 14 },
  { name: "1280x720-at-150-percent", width: 853, height: 480, minFont: 12, zoomedFrom: { width: 1280, height: 720 } },
];

await runInBrowser(async (context) => {
  mkdirSync(dirname(screenshot), { recursive: true });
  const failures = [];
  for (const size of SIZES) {
    const page = await context.newPage();
    watch(page, size.name);
    await page.setViewportSize(size.zoomedFrom ?? size);
    step(`${size.name}: loading`);
    await page.goto(url, { timeout: STEP_MS });
    if (size.zoomedFrom) {
      await fillDialogues(page);
      step(`${size.name}: zooming in (the viewport shrinks to ${size.width}×${size.height} CSS px)`);
      await page.setViewportSize(size);
    }
    await fillDialogues(page);
    const path = screenshot.replace(/\.png$/, `-${size.name}.png`);
    await page.screenshot({ path });
    step(`${size.name}: screenshot in ${path}`);
    const found = await page.evaluate(inspect, size);
    for (const line of found.notes) step(`${size.name}: ${line}`);
    failures.push(...found.failures.map((f) => `${size.name}: ${f}`));
    await page.close();
  }
  if (failures.length > 0) throw new Error(`the page is not readable from the back row:\n${failures.join("\n")}`);
}, screenshot.replace(/\.png$/, "-failure.png"));

// Waits until every lane's dialogue has arrows and notes in view,
// including a message published here ("you: #id") and a pause and resume.
async function fillDialogues(page) {
  for (const lane of LANES) {
    await page.locator(`[data-lane="${lane}"] .messages li[data-id]`).first().waitFor({ timeout: STEP_MS });
  }
  const form = page.locator('form[data-action="publish"]');
  await form.locator('[name="author"]').fill("back row");
  await form.locator('[name="text"]').fill(`can you read this? ${Date.now()}`);
  await form.locator('button[type="submit"]').click();
  const pause = page.locator('[data-lane="longpoll"] [data-action="pause"]');
  await pause.click();
  await pause.click();
  await page.waitForFunction(
    (lanes) =>
      lanes.every((lane) => {
        const timeline = document.querySelector(`[data-lane="${lane}"] .timeline`);
        return timeline.querySelector(".label.mine") && timeline.querySelectorAll(".arrow").length >= 3;
      }) && document.querySelector('[data-lane="longpoll"] .timeline .label.mark'),
    LANES,
    { timeout: STEP_MS },
  );
}

// Runs in the page: measures everything, returns {failures, notes}.
function inspect(size) {
  const failures = [];
  const notes = [];
  const viewWidth = document.documentElement.clientWidth;
  const viewHeight = document.documentElement.clientHeight;

  // 1. Four lanes on one row, not overlapping, filling the screen.
  const lanes = [...document.querySelectorAll("[data-lane]")].map((lane) => ({ lane, box: lane.getBoundingClientRect() }));
  if (lanes.length !== 4) failures.push(`${lanes.length} lanes`);
  lanes.forEach(({ lane, box }, i) => {
    if (i === 0) return;
    const before = lanes[i - 1].box;
    if (Math.abs(box.top - lanes[0].box.top) > 1) failures.push(`lane ${lane.dataset.lane} is not on the first lane's row (top ${box.top} vs ${lanes[0].box.top})`);
    if (box.left < before.right - 0.5) failures.push(`lane ${lane.dataset.lane} overlaps the one before it (${box.left} < ${before.right})`);
  });
  const row = lanes.at(-1).box.right - lanes[0].box.left;
  notes.push(`lanes span ${Math.round(row)} of ${viewWidth} px wide, reach down to ${Math.round(lanes[0].box.bottom + scrollY)} of ${viewHeight} px`);
  if (row < 0.9 * viewWidth) failures.push(`the lanes fill ${Math.round((100 * row) / viewWidth)} % of the width`);
  const bottom = Math.max(...lanes.map(({ box }) => box.bottom + scrollY));
  if (bottom < 0.9 * viewHeight) failures.push(`the lanes end at ${Math.round((100 * bottom) / viewHeight)} % of the height`);
  if (document.documentElement.scrollWidth > viewWidth) failures.push(`the page is ${document.documentElement.scrollWidth} px wide, wider than the screen`);

  // 2. Titles and names whole (user text may end in "…", no name of the
  // page's own); no lane's text spills into the next lane.
  for (const name of document.querySelectorAll("h1, h2, h3, th, figcaption, label, button, .label, .setting, .summary, .whose, .small")) {
    if (name instanceof SVGElement || !visible(name) || name.querySelector(".text")) continue;
    if (name.scrollWidth > name.clientWidth + 1) failures.push(`"${name.textContent.trim()}" is cut (${describe(name)}: ${name.scrollWidth} > ${name.clientWidth} px)`);
  }
  for (const { lane, box } of lanes) {
    const walker = document.createTreeWalker(lane, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || node.parentElement.closest("svg") || !visible(node.parentElement)) continue;
      if (clippedInside(node.parentElement, lane)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const text = range.getBoundingClientRect();
      if (text.left < box.left - 1 || text.right > box.right + 1) {
        failures.push(`"${node.textContent.trim()}" spills out of the ${lane.dataset.lane} lane (${Math.round(text.left)}–${Math.round(text.right)} vs ${Math.round(box.left)}–${Math.round(box.right)})`);
      }
    }
  }

  // 3. Type size, as drawn.
  let smallest = Infinity;
  let checked = 0;
  const tooSmall = new Set();
  const measure = (element, what) => {
    if (!visible(element)) return;
    let px = parseFloat(getComputedStyle(element).fontSize);
    if (element instanceof SVGElement) px *= element.getScreenCTM()?.a ?? 1;
    checked += 1;
    smallest = Math.min(smallest, px);
    if (px < size.minFont - 0.01) tooSmall.add(`${px.toFixed(1)} px: ${describe(element)} "${what.slice(0, 40)}"`);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.textContent.trim() || parent.closest("title, option, script, style")) continue;
    measure(parent, node.textContent.trim());
  }
  for (const field of document.querySelectorAll("input, select, button, textarea")) measure(field, field.value || field.placeholder || "");
  notes.push(`${checked} texts, the smallest ${smallest.toFixed(1)} px`);
  if (checked < 100) failures.push(`only ${checked} texts measured`);
  for (const small of tooSmall) failures.push(`smaller than ${size.minFont} px: ${small}`);

  // 4. No text on a line, in every drawing of the page.
  let labels = 0;
  let lines = 0;
  for (const drawing of document.querySelectorAll("svg")) {
    if (!visible(drawing)) continue;
    const view = drawing.getBoundingClientRect();
    // A dialogue's header hides what scrolls under it.
    const header = drawing.querySelector(".header");
    const top = header ? header.getBoundingClientRect().bottom : view.top;
    const segments = [...drawing.querySelectorAll("line")].flatMap((line) => {
      const m = line.getScreenCTM();
      if (!m) return [];
      const at = (x, y) => ({ x: m.a * x + m.c * y + m.e, y: m.b * x + m.d * y + m.f });
      const a = at(line.x1.baseVal.value, line.y1.baseVal.value);
      const b = at(line.x2.baseVal.value, line.y2.baseVal.value);
      const clipped = clip(a, b, { left: view.left, right: view.right, top, bottom: view.bottom });
      if (!clipped) return [];
      const width = parseFloat(getComputedStyle(line).strokeWidth) || 1;
      return [{ ...clipped, width, line }];
    });
    lines += segments.length;
    for (const text of drawing.querySelectorAll("text")) {
      if (!text.textContent.trim()) continue;
      const box = text.getBoundingClientRect();
      if (box.bottom <= top || box.top >= view.bottom || box.right <= view.left || box.left >= view.right) continue;
      labels += 1;
      for (const s of segments) {
        const pad = s.width / 2;
        const hit = clip(s.a, s.b, { left: box.left - pad, right: box.right + pad, top: box.top - pad, bottom: box.bottom + pad });
        if (hit) {
          failures.push(`"${text.textContent}" (${describe(text)}) is drawn on a line (${describe(s.line)}) at ${Math.round(hit.a.x)},${Math.round(hit.a.y)}`);
          break;
        }
      }
    }
  }
  notes.push(`${labels} SVG texts in view checked against ${lines} visible lines`);
  if (labels < 30 || lines < 30) failures.push(`too little drawn to judge: ${labels} texts, ${lines} lines`);
  return { failures, notes };

  function visible(element) {
    if (element.closest("[hidden], .visually-hidden")) return false;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.display === "none") return false;
    return element.getClientRects().length > 0;
  }

  // True if an element between `element` and `root` clips its overflow
  // (a long message cut with an ellipsis, on purpose).
  function clippedInside(element, root) {
    for (let e = element; e && e !== root; e = e.parentElement) {
      if (getComputedStyle(e).overflowX !== "visible") return true;
    }
    return false;
  }

  function describe(element) {
    const lane = element.closest("[data-lane]")?.dataset.lane;
    const cls = element.getAttribute("class");
    return `${lane ? `${lane} lane ` : ""}<${element.tagName.toLowerCase()}${cls ? ` class="${cls}"` : ""}>`;
  }

  // The part of segment a–b inside `r` (Liang–Barsky), or null.
  function clip(a, b, r) {
    let t0 = 0;
    let t1 = 1;
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    for (const [p, q] of [[-dx, a.x - r.left], [dx, r.right - a.x], [-dy, a.y - r.top], [dy, r.bottom - a.y]]) {
      if (p === 0) {
        if (q < 0) return null;
      } else {
        const t = q / p;
        if (p < 0) t0 = Math.max(t0, t);
        else t1 = Math.min(t1, t);
      }
    }
    if (t0 > t1) return null;
    return { a: { x: a.x + t0 * dx, y: a.y + t0 * dy }, b: { x: a.x + t1 * dx, y: a.y + t1 * dy } };
  }
}
