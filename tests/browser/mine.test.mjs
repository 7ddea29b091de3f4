// Follow your own message, in a real browser, while the generator publishes
// 4 messages a second (so a short poll's answer carries several, and a
// three-line list alone would lose yours at once):
//
// 1. a message published from the box (by POST, then up the WebSocket)
//    gets a row in "your messages" (data-your-messages, [data-id]) whose
//    four [data-lane-delay] cells fill with this browser's delay in each
//    lane — each no longer than the time from the click to the message's
//    arrival in that lane, and the same number the lane's own marks say;
// 2. it is marked in every lane: its list item says "you" and stays in
//    view after newer messages arrived; the dialogue has a "you: #id"
//    note; the latency strip has a ringed dot whose title is "#id (yours)
//    · N ms";
// 3. every dot of a strip says its message's id and delay;
// 4. the table keeps the newest 20 rows, newest first;
// 5. after a hub restart ids begin again at 1, and the table keeps runs
//    apart: the rows before are marked as an earlier run under a line
//    that says so, and the new run's #1 gets a row of its own with its
//    own text and delays, while the earlier #1 keeps its own;
// 6. a message published while every lane is away (paused) across a hub
//    restart belongs to the new run, although no lane has told of it yet:
//    its row waits, and fills in when the lanes come back.
//
//   node tests/browser/mine.test.mjs http://127.0.0.1:PORT/ target/browser/mine.png
//
// tests/browser.rs starts the server (generator at 4 msg/s) and runs this
// as part of `cargo test`. Every wait is bounded.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LANES, STEP_MS, runInBrowser, step, watch } from "./harness.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node mine.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

// The table's bound (mine.js KEPT_ROWS).
const KEPT_ROWS = 20;
// Newer messages that must arrive in a lane after yours while it stays in view.
const NEWER = 4;
// Clock error allowed between the click and the server's publish time.
const CLOCK_SLACK_MS = 25;

await runInBrowser(async (context) => {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page");
  await page.setViewportSize({ width: 1280, height: 720 });
  // When each message id first showed in each lane, and when the box
  // said "sent #id" (the server's answer came), in page time.
  await page.addInitScript((lanes) => {
    window.arrivals = Object.fromEntries(lanes.map((lane) => [lane, {}]));
    window.answered = {};
    addEventListener("DOMContentLoaded", () => {
      const status = document.querySelector('form[data-action="publish"] output');
      new MutationObserver(() => {
        const sent = status.value.match(/^sent #(\d+)/);
        if (sent) window.answered[sent[1]] ??= performance.now();
      }).observe(status, { childList: true, characterData: true, subtree: true });
      for (const lane of lanes) {
        new MutationObserver((changes) => {
          for (const change of changes) {
            for (const item of change.addedNodes) {
              if (item.dataset?.id) window.arrivals[lane][item.dataset.id] ??= performance.now();
            }
          }
        }).observe(document.querySelector(`[data-lane="${lane}"] .messages`), { childList: true });
      }
    });
  }, LANES);

  step(`loading ${url}`);
  await page.goto(url, { timeout: STEP_MS });
  for (const lane of LANES) {
    await page.locator(`[data-lane="${lane}"] .messages li[data-id]`).first().waitFor({ timeout: STEP_MS });
  }
  await page.locator("[data-your-messages-empty]").waitFor({ state: "visible", timeout: STEP_MS });

  step("1–2. published by POST: a row with four delays, and marks in every lane");
  const byPost = await publishAndFollow(page, "post");
  step(`   #${byPost.id}: ${describe(byPost.delays)}`);

  step("1–2. published up the WebSocket: the same");
  const byWs = await publishAndFollow(page, "ws");
  step(`   #${byWs.id}: ${describe(byWs.delays)}`);
  const order = await page.locator("[data-your-messages] tbody tr").evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
  if (order[0] !== byWs.id || order[1] !== byPost.id) throw new Error(`rows not newest first: ${order}`);
  if (await page.locator("[data-your-messages-empty]").isVisible()) throw new Error("the table still says to publish something");

  step("3. every dot of every strip names its message and delay");
  await page.waitForFunction(() => document.querySelectorAll(".strip circle").length >= 20, null, { timeout: STEP_MS });
  const dots = await page.evaluate(() =>
    [...document.querySelectorAll(".strip circle")].map((dot) => dot.querySelector("title")?.textContent ?? ""),
  );
  const unnamed = dots.filter((title) => !/^#\d+( \(yours\))? · \d+(\.\d)? ms$/.test(title));
  if (dots.length < 20 || unnamed.length > 0) throw new Error(`${dots.length} dots; without id and delay: ${JSON.stringify(unnamed.slice(0, 5))}`);
  step(`   ${dots.length} dots, e.g. "${dots.at(-1)}"`);

  step(`4. the table keeps the newest ${KEPT_ROWS}`);
  await page.locator('form[data-action="publish"] [name="via"]').selectOption("post");
  const last = await page.evaluate(publishMany, { count: KEPT_ROWS, timeout: STEP_MS });
  await page.locator(`[data-your-messages] tr[data-id="${last}"]`).waitFor({ timeout: STEP_MS });
  const ids = await page.locator("[data-your-messages] tbody tr[data-id]").evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
  if (ids.length !== KEPT_ROWS || ids[0] !== last || ids.includes(byPost.id) || ids.includes(byWs.id)) {
    throw new Error(`after ${KEPT_ROWS + 2} messages the table holds ${ids.length}: ${ids.join(" ")}`);
  }

  step("5. a hub restart: ids from 1 again, and the table keeps the two runs apart");
  await control(page, "/api/generator", { rate: 0 });
  await control(page, "/api/hub/restart", {});
  await waitForEarlierRun(page, KEPT_ROWS);
  const first = await publishUntil(page, 1, "first run's");
  const firstRow = await fullRow(page, first);
  step(`   #${first} of one run: ${describe(firstRow.delays)}`);
  await control(page, "/api/hub/restart", {});
  await waitForEarlierRun(page, KEPT_ROWS);
  const again = await publishUntil(page, first, "second run's");
  if (again !== first) throw new Error(`the second run's message is #${again}, not #${first} again`);
  const rows = await page.locator("[data-your-messages] tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.dataset.id,
      earlier: tr.dataset.earlierRun !== undefined,
      divider: tr.dataset.runDivider !== undefined,
      text: tr.querySelector(".text")?.textContent,
      delays: Object.fromEntries([...tr.querySelectorAll("[data-lane-delay]")].map((c) => [c.dataset.laneDelay, c.textContent])),
    })),
  );
  const shape = rows.map((r) => (r.divider ? "—" : `#${r.id}${r.earlier ? "(earlier)" : ""}`));
  if (shape[0] !== `#${first}` || shape[1] !== "—" || shape[2] !== `#${first}(earlier)` || shape[3] !== "—") {
    throw new Error(`after two restarts the table reads ${shape.join(" ")}`);
  }
  if (rows.filter((r) => r.divider).length !== 2 || rows.slice(4).some((r) => r.divider || !r.earlier)) {
    throw new Error(`the earlier runs are not all marked, under one line each: ${shape.join(" ")}`);
  }
  if (rows.filter((r) => !r.divider).length !== KEPT_ROWS) throw new Error(`${rows.length} rows: ${shape.join(" ")}`);
  if (rows[2].text !== firstRow.text || JSON.stringify(rows[2].delays) !== JSON.stringify(firstRow.delays)) {
    throw new Error(`the earlier #${first} changed: ${JSON.stringify(rows[2])}, was ${JSON.stringify(firstRow)}`);
  }
  const secondRow = await fullRow(page, first);
  if (secondRow.text === firstRow.text || !secondRow.text.startsWith("second run's")) {
    throw new Error(`the new #${first} says "${secondRow.text}" (the earlier one said "${firstRow.text}")`);
  }
  step(`   #${first} of the next run: ${describe(secondRow.delays)}; the earlier #${first} kept ${describe(firstRow.delays)}`);

  step("6. every lane paused, the hub restarted, a message published: its row waits for the new run");
  await setPaused(page, true);
  await control(page, "/api/hub/restart", {});
  const third = await publishUntil(page, 1, "while away");
  if (third !== first) throw new Error(`the third run's message is #${third}, not #${first}`);
  const waiting = await page.locator("[data-your-messages] tbody tr").evaluateAll((trs) =>
    trs.slice(0, 3).map((tr) => ({
      id: tr.dataset.id,
      earlier: tr.dataset.earlierRun !== undefined,
      divider: tr.dataset.runDivider !== undefined,
      arrived: [...tr.querySelectorAll("[data-lane-delay]")].filter((cell) => cell.textContent !== "").length,
    })),
  );
  const waitingShape = waiting.map((r) => (r.divider ? "—" : `#${r.id}${r.earlier ? "(earlier)" : ""}`)).join(" ");
  if (waitingShape !== `#${first} — #${first}(earlier)`) throw new Error(`with the lanes away, the table reads ${waitingShape}`);
  if (waiting[0].arrived !== 0) throw new Error(`with every lane paused, the new #${first} shows ${waiting[0].arrived} delays`);
  await setPaused(page, false);
  const thirdRow = await fullRow(page, first);
  if (!thirdRow.text.startsWith("while away")) throw new Error(`the new #${first} says "${thirdRow.text}"`);
  const earlierTexts = await page.locator(`[data-your-messages] tr[data-id="${first}"][data-earlier-run] .text`).allTextContents();
  if (earlierTexts.length !== 2 || !earlierTexts[0].startsWith("second run's") || earlierTexts[1] !== firstRow.text) {
    throw new Error(`the earlier #${first} rows say ${JSON.stringify(earlierTexts)}`);
  }
  step(`   #${first} published while away: ${describe(thirdRow.delays)} (caught up on resume)`);
  await control(page, "/api/generator", { rate: 4 });

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.locator(".yours").scrollIntoViewIfNeeded();
  await page.screenshot({ path: screenshot });
  step(`screenshot in ${screenshot}`);
}, screenshot.replace(/\.png$/, "-failure.png"));

// Publishes one message from the box over `via` and checks everything the
// page shows of it. Returns {id, delays}.
async function publishAndFollow(page, via) {
  const form = page.locator('form[data-action="publish"]');
  await form.locator('[name="via"]').selectOption(via);
  const clickedAt = await page.evaluate(() => performance.now());
  const id = await publish(page, `mine over ${via} ${Date.now()}`);
  const row = page.locator(`[data-your-messages] tr[data-id="${id}"]`);
  await row.waitFor({ timeout: STEP_MS });

  // 1. Four delays, each within what the test itself saw: no longer than
  // from the click to the arrival, no shorter than from the answer (which
  // came after the server published) to the arrival.
  await page.waitForFunction(
    (id) => [...document.querySelectorAll(`[data-your-messages] tr[data-id="${id}"] [data-lane-delay]`)].every((cell) => cell.textContent !== ""),
    id,
    { timeout: STEP_MS },
  );
  const delays = await row.evaluate((tr) => Object.fromEntries([...tr.querySelectorAll("[data-lane-delay]")].map((c) => [c.dataset.laneDelay, c.textContent])));
  if (JSON.stringify(Object.keys(delays)) !== JSON.stringify(LANES)) throw new Error(`#${id}: cells ${Object.keys(delays)}`);
  const { arrivals, answeredAt } = await page.evaluate(
    (id) => ({ arrivals: Object.fromEntries(Object.entries(window.arrivals).map(([lane, seen]) => [lane, seen[id]])), answeredAt: window.answered[id] }),
    id,
  );
  for (const lane of LANES) {
    const ms = Number(delays[lane]);
    const most = arrivals[lane] - clickedAt + CLOCK_SLACK_MS;
    const least = arrivals[lane] - answeredAt - CLOCK_SLACK_MS;
    if (!(ms >= 0 && ms >= least && ms <= most)) {
      throw new Error(`#${id} in ${lane}: the table says ${delays[lane]} ms; it showed between ${least.toFixed(1)} and ${most.toFixed(1)} ms after it was published`);
    }
  }

  // 2. Marked in every lane, and still in view after newer messages.
  await page.waitForFunction(
    ({ id, lanes, newer }) =>
      lanes.every((lane) => Object.keys(window.arrivals[lane]).filter((seen) => Number(seen) > id).length >= newer),
    { id, lanes: LANES, newer: NEWER },
    { timeout: STEP_MS },
  );
  // The strips redraw a few times a second.
  await page.waitForFunction(
    (id) => document.querySelectorAll(".strip circle.mine title").length >= 4 &&
      [...document.querySelectorAll(".strip")].every((strip) => [...strip.querySelectorAll("circle.mine title")].some((t) => t.textContent.startsWith(`#${id} `))),
    id,
    { timeout: STEP_MS },
  ).catch(() => {
    throw new Error(`not every latency strip has a ringed dot titled "#${id} (yours) · …"`);
  });
  for (const lane of LANES) {
    const root = page.locator(`[data-lane="${lane}"]`);
    const item = root.locator(`.messages li[data-id="${id}"]`);
    if (!(await item.isVisible())) throw new Error(`#${id} is no longer in view in the ${lane} lane's list after ${NEWER} newer messages`);
    const tag = await item.locator(".you").textContent();
    // On top as drawn (the pinned item is ordered first, not moved).
    const top = await root.locator(".messages").evaluate((list) => {
      const shown = [...list.children].filter((li) => li.getClientRects().length > 0);
      shown.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
      return shown[0]?.dataset.id;
    });
    if (top !== String(id)) throw new Error(`the ${lane} lane's list shows #${top} on top, not yours (#${id})`);
    const note = root.locator(".timeline .label.mine").filter({ hasText: `you: #${id}` });
    if ((await note.count()) !== 1) throw new Error(`the ${lane} lane's dialogue has ${await note.count()} "you: #${id}" notes`);
    const dot = await root.locator(".strip circle.mine title").filter({ hasText: `#${id} (yours)` }).allTextContents();
    const said = `${delays[lane]} ms`;
    if (dot.length !== 1 || !dot[0].endsWith(` · ${said}`)) throw new Error(`the ${lane} strip's dot for #${id}: ${JSON.stringify(dot)}, the table says ${said}`);
    if (tag !== `you · ${said}`) throw new Error(`the ${lane} lane's list says "${tag}", the table ${said}`);
  }
  return { id, delays };
}

// Publishes `text` from the box (over the selected way); returns its id as
// the box's status says it.
async function publish(page, text) {
  const form = page.locator('form[data-action="publish"]');
  await form.locator('[name="author"]').fill("mine test");
  await form.locator('[name="text"]').fill(text);
  await form.locator('[name="status"]').evaluate((output) => (output.value = ""));
  await form.locator('button[type="submit"]').click();
  const status = form.locator("output").filter({ hasText: /^sent #\d+/ });
  await status.waitFor({ timeout: STEP_MS });
  return Number((await status.textContent()).match(/#(\d+)/)[1]);
}

// Runs in the page: submits the box `count` times, each after the answer
// to the one before; resolves with the last id.
async function publishMany({ count, timeout }) {
  const form = document.querySelector('form[data-action="publish"]');
  let id = null;
  for (let i = 0; i < count; i++) {
    form.text.value = `one of many ${i}`;
    form.status.value = "";
    id = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to publish ${i}: "${form.status.value}"`)), timeout);
      const said = new MutationObserver(() => {
        const sent = form.status.value.match(/^sent #(\d+)/);
        if (!sent && !form.status.value) return;
        said.disconnect();
        clearTimeout(timer);
        if (sent) resolve(Number(sent[1]));
        else reject(new Error(`publish ${i}: "${form.status.value}"`));
      });
      said.observe(form.status, { childList: true, characterData: true, subtree: true });
      form.requestSubmit();
    });
  }
  return id;
}

// A global control, from the page (a loopback server leaves them open).
async function control(page, path, body) {
  const status = await page.evaluate(
    ({ path, body }) =>
      fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.status),
    { path, body },
  );
  if (status !== 200) throw new Error(`POST ${path}: ${status}`);
}

// Pauses (or resumes) all four lanes, and waits until each says so.
async function setPaused(page, paused) {
  for (const lane of LANES) {
    const button = page.locator(`[data-lane="${lane}"] [data-action="pause"]`);
    if ((await button.getAttribute("aria-pressed")) !== String(paused)) await button.click();
    await page.locator(`[data-lane="${lane}"] [data-action="pause"][aria-pressed="${paused}"]`).waitFor({ timeout: STEP_MS });
  }
}

// Waits until the lanes heard of the new run: the table's `count` rows so
// far are marked as an earlier run, under a line that says so.
async function waitForEarlierRun(page, count) {
  await page
    .waitForFunction(
      (count) => {
        const rows = [...document.querySelectorAll("[data-your-messages] tbody tr")];
        const marked = rows.filter((tr) => tr.dataset.earlierRun !== undefined);
        const line = rows.find((tr) => tr.dataset.runDivider !== undefined);
        return marked.length === count && line?.nextElementSibling === marked[0];
      },
      count,
      { timeout: STEP_MS },
    )
    .catch(() => {
      throw new Error(`after the restart the table's ${count} rows are not marked as an earlier run under a line`);
    });
}

// Publishes from the box by POST, with the generator off, until a message
// gets id `least` or more (a generator message may slip in first); its id.
async function publishUntil(page, least, label) {
  await page.locator('form[data-action="publish"] [name="via"]').selectOption("post");
  for (let tries = 0; tries < 5; tries++) {
    const id = await publish(page, `${label} ${Date.now()}`);
    if (id >= least) return id;
  }
  throw new Error(`five publishes did not reach #${least}`);
}

// The newest row for `id`, once all four lanes have its delay.
async function fullRow(page, id) {
  const row = page.locator(`[data-your-messages] tr[data-id="${id}"]:not([data-earlier-run])`);
  await page
    .waitForFunction(
      (id) => {
        const tr = document.querySelector(`[data-your-messages] tr[data-id="${id}"]:not([data-earlier-run])`);
        return tr && [...tr.querySelectorAll("[data-lane-delay]")].every((cell) => cell.textContent !== "");
      },
      id,
      { timeout: STEP_MS },
    )
    .catch(() => {
      throw new Error(`#${id}'s row did not fill in all four lanes`);
    });
  return row.evaluate((tr) => ({
    text: tr.querySelector(".text").textContent,
    delays: Object.fromEntries([...tr.querySelectorAll("[data-lane-delay]")].map((c) => [c.dataset.laneDelay, c.textContent])),
  }));
}

function describe(delays) {
  return LANES.map((lane) => `${lane} ${delays[lane]} ms`).join(" · ");
}
