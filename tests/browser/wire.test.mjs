// The wire view, in a real browser:
//
// 1. clicking an arrow of a lane's dialogue opens the panel
//    ([data-wire-panel]) and starts the server recording this tab;
// 2. in each lane, a newer arrow clicked shows in [data-wire] exactly the
//    bytes the server logged for that exchange (request head, response
//    head, body), and the exchange is the one that arrow drew: the newest
//    of its lane to reach the server before the arrow back was drawn;
// 3. the WebSocket's handshake shows the Sec-WebSocket-Extensions this
//    browser offered and the 101 answered, and its frames are taken apart:
//    FIN, RSV1–3, opcode, MASK, the length's encoding, the masking key —
//    the browser's own frame masked, with a key, the server's not;
// 4. Esc closes it, and the server stops recording; Enter on a focused
//    dialogue opens it again (the keyboard's way in); its text is 14 px or
//    more at 1280×720;
// 5. a poll waiting in the browser's queue (all six connections held, by
//    the page's own button) is drawn as waiting until its answer comes.
//
//   node tests/browser/wire.test.mjs http://127.0.0.1:PORT/ target/browser/wire.png
//
// tests/browser.rs starts the server (with the generator on) and runs this
// as part of `cargo test`. Every wait is bounded.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LANES, STEP_MS, runInBrowser, step, watch } from "./harness.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node wire.test.mjs <url> <screenshot.png>");
  process.exit(2);
}

await runInBrowser(async (context) => {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page");
  await page.setViewportSize({ width: 1280, height: 720 });
  // When each exchange's first arrow, and its arrow back, were drawn
  // (Date.now(), ms, as the observer hears of them: a little late).
  await page.addInitScript(() => {
    window.drawnAt = {};
    window.backAt = {};
    addEventListener("DOMContentLoaded", () => {
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const node of change.addedNodes) {
            const key = node.dataset?.exchange;
            if (!key) continue;
            window.drawnAt[key] ??= Date.now();
            if (node.matches("line.arrow:not(.ask)")) window.backAt[key] ??= Date.now();
          }
        }
      }).observe(document.querySelector("main.lanes"), { childList: true, subtree: true });
    });
  });

  step(`loading ${url}`);
  await page.goto(url, { timeout: STEP_MS });
  for (const lane of LANES) {
    await page.locator(`[data-lane="${lane}"] .timeline [data-exchange]`).first().waitFor({ state: "attached", timeout: STEP_MS });
  }
  const tab = await page.evaluate(async () => (await import("/static/tab.js")).TAB_ID);

  step("1. clicking an arrow opens the panel and the server records");
  const panel = page.locator("[data-wire-panel]");
  await clickNewest(page, "poll", ".hit");
  await panel.waitFor({ state: "visible", timeout: STEP_MS });
  await page.waitForFunction(async (tab) => (await (await fetch(`/api/tabs/${tab}/wire`)).json()).recording, tab, { timeout: STEP_MS });

  for (const lane of ["poll", "longpoll"]) {
    step(`2. ${lane}: an exchange after the panel opened, byte for byte`);
    const key = await answeredAfterOpening(page, lane);
    await clickArrow(page, key);
    await page.locator(`[data-wire][data-wire-for="${key}"]`).waitFor({ state: "attached", timeout: STEP_MS });
    const shown = await shownExchange(page, tab, lane);
    await sameBytes(page, shown, ["request-head", "response-head", "response-body"]);
    const backAt = await page.evaluate((key) => window.backAt[key], key);
    await isTheOneDrawn(page, tab, lane, shown, backAt);
    step(`   ${key} is exchange ${shown.id}: ${shown.bytes_in} bytes in, ${shown.bytes_out} out`);
  }

  step("2. sse: the open stream's head and chunks");
  await clickNewest(page, "sse", "rect.band");
  await page.locator('[data-wire][data-wire-for^="sse-"]').waitFor({ state: "attached", timeout: STEP_MS });
  const sse = await shownExchange(page, tab, "sse", (e) => e.parts.length > 0);
  await sameBytes(page, sse, ["request-head", "response-head"]);
  if (!/^HTTP\/1\.1 200 OK\r\n/.test(text(sse.response_head)) || !/text\/event-stream/i.test(text(sse.response_head))) {
    throw new Error(`the SSE answer's head: ${text(sse.response_head)}`);
  }
  await page.locator('[data-wire] [data-part="response-chunk"]').first().waitFor({ timeout: STEP_MS });
  const chunk = await page.locator('[data-wire] [data-part="response-chunk"]').last().textContent();
  if (!/^[0-9A-F]+\r\n/.test(chunk)) throw new Error(`an SSE chunk without its size line: ${JSON.stringify(chunk.slice(0, 40))}`);

  step("3. ws: the handshake as offered and answered, then frames both ways taken apart");
  await clickNewest(page, "ws", "rect.band");
  await page.locator('[data-wire][data-wire-for^="ws-"]').waitFor({ state: "attached", timeout: STEP_MS });
  const ws = await shownExchange(page, tab, "ws");
  await sameBytes(page, ws, ["request-head", "response-head"]);
  const offered = text(ws.request_head).match(/^Sec-WebSocket-Extensions: .*$/im)?.[0];
  if (!offered || !/permessage-deflate/.test(offered)) throw new Error(`no extension offer in the handshake: ${text(ws.request_head)}`);
  const shownRequest = await page.locator('[data-wire] [data-part="request-head"]').textContent();
  if (!shownRequest.includes(offered.trim())) throw new Error(`the panel does not show "${offered.trim()}"`);
  if (!text(ws.response_head).startsWith("HTTP/1.1 101 Switching Protocols\r\n")) throw new Error(`the 101: ${text(ws.response_head)}`);
  // A frame from the browser: publish up the socket.
  const form = page.locator('form[data-action="publish"]');
  await form.locator('[name="author"]').fill("wire test");
  await form.locator('[name="text"]').fill("up the socket, masked");
  await form.locator('[name="via"]').selectOption("ws");
  await form.locator('button[type="submit"]').click();
  // (Not the browser's pongs to the server's pings: the publish frame.)
  const up = page.locator('[data-wire] [data-frame][data-dir="in"]').filter({ hasText: "up the socket, masked" }).first();
  await up.waitFor({ timeout: STEP_MS });
  const down = page.locator('[data-wire] [data-frame][data-dir="out"]').last();
  await down.waitFor({ timeout: STEP_MS });
  const upFields = await fields(up);
  const downFields = await fields(down);
  step(`   ↑ ${JSON.stringify(upFields)}`);
  step(`   ↓ ${JSON.stringify(downFields)}`);
  for (const name of ["fin", "rsv1", "rsv2", "rsv3", "opcode", "mask", "length", "key"]) {
    if (!(name in upFields) || !(name in downFields)) throw new Error(`a frame without its ${name}`);
  }
  if (upFields.mask !== "1" || !/^([0-9a-f]{2} ){3}[0-9a-f]{2}$/.test(upFields.key)) throw new Error("the browser's frame is not shown masked, with its key");
  if (downFields.mask !== "0" || downFields.key !== "none") throw new Error("the server's frame is shown masked");
  if (!/^\d+ \((7|16|64)-bit/.test(upFields.length) || upFields.opcode !== "0x1 (text)" || upFields.fin !== "1") {
    throw new Error(`the browser's frame: ${JSON.stringify(upFields)}`);
  }
  const upText = await up.locator('[data-part="frame-text"]').textContent();
  if (!upText.includes("up the socket, masked")) throw new Error(`the browser's frame as text: ${upText}`);
  const masked = await up.locator('[data-part="frame-payload"]').textContent();
  const plainHex = [...new TextEncoder().encode(upText.slice(0, 8))].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  if (masked.startsWith(plainHex)) throw new Error("the browser's payload is shown unmasked as sent");
  // The frame shown is the server's record of it, byte for byte.
  const log = await wireLog(page, tab);
  const recorded = log.exchanges.find((e) => e.id === ws.id).parts.filter((p) => p.dir === "in").map((p) => hexOf(p.bytes));
  const header = await up.locator('[data-part="frame-header"]').textContent();
  if (!recorded.some((frame) => frame.startsWith(header) && frame.includes(masked.slice(0, 40)))) {
    throw new Error(`the frame shown (${header} | ${masked.slice(0, 40)}) is not one the server recorded`);
  }

  step("4. readable, closable with Esc, reachable with the keyboard");
  const smallest = await panel.evaluate((root) => {
    let min = Infinity;
    for (const node of root.querySelectorAll("*")) {
      if (node.getClientRects().length === 0 || !node.textContent.trim()) continue;
      min = Math.min(min, parseFloat(getComputedStyle(node).fontSize));
    }
    return min;
  });
  if (smallest < 14) throw new Error(`the wire view has text of ${smallest} px`);
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  step(`screenshot in ${screenshot}`);
  await page.keyboard.press("Escape");
  await panel.waitFor({ state: "hidden", timeout: STEP_MS });
  await page.waitForFunction(async (tab) => !(await (await fetch(`/api/tabs/${tab}/wire`)).json()).recording, tab, { timeout: STEP_MS });
  await page.locator('[data-lane="poll"] svg.timeline').focus();
  await page.keyboard.press("Enter");
  await panel.waitFor({ state: "visible", timeout: STEP_MS });
  await page.keyboard.press("Escape");
  await panel.waitFor({ state: "hidden", timeout: STEP_MS });

  step("5. a request waiting in the browser's queue is drawn as waiting");
  await page.locator('[data-action="fill"]').click();
  const queued = page.locator('[data-lane="poll"] .timeline line.arrow.ask.queued');
  await queued.waitFor({ state: "attached", timeout: STEP_MS });
  const waitingKey = await queued.getAttribute("data-exchange");
  await page.locator('[data-action="release"]').click();
  await page.locator(`[data-lane="poll"] .timeline line.arrow:not(.ask)[data-exchange="${waitingKey}"]`).waitFor({ state: "attached", timeout: STEP_MS });
  if ((await page.locator(`[data-lane="poll"] .timeline line.queued[data-exchange="${waitingKey}"]`).count()) !== 0) {
    throw new Error(`${waitingKey} is still drawn as queued after its answer came`);
  }
}, screenshot.replace(/\.png$/, "-failure.png"));

// ---- helpers ----

function text(base64) {
  return Buffer.from(base64, "base64").toString("utf8");
}

function hexOf(base64) {
  return [...Buffer.from(base64, "base64")].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

async function wireLog(page, tab) {
  return page.evaluate(async (tab) => (await fetch(`/api/tabs/${tab}/wire`)).json(), tab);
}

// Clicks the newest `selector` (a hit line, a band) of `lane`'s dialogue.
async function clickNewest(page, lane, selector) {
  const target = page.locator(`[data-lane="${lane}"] .timeline ${selector}[data-exchange]`).last();
  await target.waitFor({ state: "attached", timeout: STEP_MS });
  await target.dispatchEvent("click");
}

async function clickArrow(page, key) {
  await page.locator(`.timeline .hit[data-exchange="${key}"]`).first().dispatchEvent("click");
}

// The key of an exchange of `lane` that began after the panel opened and
// has been answered (its arrow back is drawn).
async function answeredAfterOpening(page, lane) {
  const handle = await page.waitForFunction(
    ({ lane }) => {
      window.openedAt ??= Date.now();
      const answered = [...document.querySelectorAll(`[data-lane="${lane}"] .timeline line.arrow:not(.ask)[data-exchange]`)];
      const key = answered
        .map((line) => line.dataset.exchange)
        .find((key) => window.drawnAt[key] > window.openedAt + 50);
      return key ?? false;
    },
    { lane },
    { timeout: STEP_MS },
  );
  return handle.jsonValue();
}

// The exchange [data-wire] shows once it shows one of `lane` (and `ready`
// holds of the server's record), as the server logged it.
async function shownExchange(page, tab, lane, ready = () => true) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const id = await page.locator("[data-wire]").getAttribute("data-wire-exchange");
    const technique = await page.locator("[data-wire]").getAttribute("data-technique");
    if (id && technique === lane) {
      const exchange = (await wireLog(page, tab)).exchanges.find((e) => e.id === Number(id));
      if (exchange && ready(exchange)) return exchange;
    }
    if (Date.now() > deadline) {
      throw new Error(`the wire view shows no ${lane} exchange: ${await page.locator("[data-wire]").textContent()}`);
    }
    await page.waitForTimeout(100);
  }
}

// Each of `parts` shown in [data-wire] is the server's record, as text.
async function sameBytes(page, exchange, parts) {
  const want = {
    "request-head": text(exchange.request_head),
    "response-head": text(exchange.response_head),
    "response-body": Buffer.concat(exchange.parts.filter((p) => p.dir === "out").map((p) => Buffer.from(p.bytes, "base64"))).toString("utf8"),
  };
  for (const part of parts) {
    const shown = await page.locator(`[data-wire] [data-part="${part}"]`).textContent({ timeout: STEP_MS });
    if (shown !== want[part]) throw new Error(`${part} shown:\n${JSON.stringify(shown)}\nthe server's:\n${JSON.stringify(want[part])}`);
  }
}

// The exchange shown is the one the arrow drew: the lane asks again only
// after it has drawn an answer, so its exchange is the newest of the lane
// to have reached the server before the answer's arrow was drawn (the
// browser's clock and the server's are one clock here).
async function isTheOneDrawn(page, tab, lane, shown, backAt) {
  const log = await wireLog(page, tab);
  const ofLane = log.exchanges.filter((e) => e.technique === lane);
  const drawn = ofLane.filter((e) => e.started_at_us / 1000 <= backAt).at(-1);
  if (drawn?.id !== shown.id) {
    const around = ofLane.map((e) => `${e.id}: ${(e.started_at_us / 1000 - backAt).toFixed(0)} ms`);
    throw new Error(`the ${lane} arrow answered at ${backAt} shows exchange ${shown.id}, not ${drawn?.id}; started relative to that: ${around.join(", ")}`);
  }
}

// A frame's fields as the panel lists them: {fin: "1", mask: "1", …}.
function fields(frame) {
  return frame.locator("[data-field]").evaluateAll((nodes) => Object.fromEntries(nodes.map((node) => [node.dataset.field, node.querySelector("dd").textContent])));
}
