// WebSocket compression and the subprotocol, in a real browser: Chromium's
// own WebSocket (the page's lane, no mock) against a server started with
// `--ws-deflate <policy>`:
//
// 1. the handshake as Chromium sent and received it (DevTools' protocol):
//    the page asks for the subprotocol pushlab.v1 and the 101 names it;
//    Chromium offers permessage-deflate and the 101 accepts it as the
//    policy says (no-context-takeover: every message alone both ways; on:
//    with context takeover; off: no extension);
// 2. the WebSocket lane says so: the subprotocol in its head, and what was
//    offered and accepted (`socket.extensions` in the page, the hello
//    frame's `offered`/`accepted`), in words;
// 3. the lane shows the saving beside its bytes, and its figures are the
//    wire's: the server's bytes per message as its wire log has the frames,
//    the same messages uncompressed as Chromium handed them over; with
//    context takeover (on) a message costs under half; with `off`, no
//    saving is shown;
// 4. the frames really are compressed: in the server's wire log of this
//    tab, a message frame down has RSV1 = 1 (and inflates, in Node, to the
//    message, when compressed alone), and so has the browser's publish
//    frame up; with `off`, both have RSV1 = 0;
// 5. the page's wire view shows RSV1 and the inflated text (or says why a
//    frame cannot be inflated alone).
//
//   node tests/browser/compression.test.mjs http://127.0.0.1:PORT/ no-context-takeover target/browser/compression.png
//
// tests/browser.rs starts the server (generator on) once per policy and
// runs this as part of `cargo test`. Every wait is bounded.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { inflateRawSync } from "node:zlib";
import { STEP_MS, runInBrowser, step, watch } from "./harness.mjs";

const [url, policy, screenshot] = process.argv.slice(2);
const POLICIES = ["no-context-takeover", "on", "off"];
if (!url || !POLICIES.includes(policy) || !screenshot) {
  console.error(`usage: node compression.test.mjs <url> <${POLICIES.join("|")}> <screenshot.png>`);
  process.exit(2);
}
const shot = screenshot.replace(/\.png$/, `-${policy}.png`);

// What the server answers Chromium's offer (`permessage-deflate;
// client_max_window_bits`) with, under each policy (src/techniques/ws/deflate.rs).
const ANSWERS = {
  "no-context-takeover": "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  on: "permessage-deflate",
  off: null,
};
const answer = ANSWERS[policy];
const alone = policy === "no-context-takeover";
// The saving is checked over a window of this many messages at least: the
// server's byte and message counters are read at one moment, but a message
// is counted a moment before its frame's bytes, so a few messages' window
// may be off by one message's bytes.
const WINDOW_MESSAGES = 30;
// At the generator's 4 msg/s that many take under 10 s; a busy machine more.
const SAVING_MS = 40000;

await runInBrowser(async (context) => {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page");
  const handshakes = await recordHandshakes(context, page);
  // Every text the lane's socket received, as Chromium handed it over
  // (inflated): DevTools' view, not the wire's.
  const received = [];
  page.on("websocket", (socket) => socket.on("framereceived", ({ payload }) => received.push(String(payload))));

  step(`${policy}: loading ${url}`);
  await page.goto(url, { timeout: STEP_MS });
  const tab = await page.evaluate(async () => (await import("/static/tab.js")).TAB_ID);
  const subprotocol = await page.evaluate(async () => (await import("/static/lanes/ws.js")).SUBPROTOCOL);
  if (subprotocol !== "pushlab.v1") throw new Error(`the page's subprotocol is ${subprotocol}`);

  step(`${policy}: 1. the handshake as Chromium sent and received it`);
  const handshake = await until(() => [...handshakes.values()].find((h) => h.url.includes("/ws?") && h.request && h.response), "the lane's WebSocket handshake");
  const sent = lower(handshake.request.headers);
  const got = lower(handshake.response.headers);
  step(`   sent Sec-WebSocket-Protocol: ${sent["sec-websocket-protocol"]}; Sec-WebSocket-Extensions: ${sent["sec-websocket-extensions"]}`);
  step(`   got ${handshake.response.status}, Sec-WebSocket-Protocol: ${got["sec-websocket-protocol"]}; Sec-WebSocket-Extensions: ${got["sec-websocket-extensions"] ?? "(none)"}`);
  check(handshake.response.status === 101, `the handshake answered ${handshake.response.status}`);
  check(sent["sec-websocket-protocol"] === "pushlab.v1", `the page asked for ${sent["sec-websocket-protocol"]}, not pushlab.v1`);
  check(got["sec-websocket-protocol"] === "pushlab.v1", `the 101 named ${got["sec-websocket-protocol"]}, not pushlab.v1`);
  check(/^permessage-deflate\b/.test(sent["sec-websocket-extensions"] ?? ""), `Chromium offered ${sent["sec-websocket-extensions"]}`);
  check((got["sec-websocket-extensions"] ?? null) === answer, `the 101 accepted ${got["sec-websocket-extensions"]}, not ${answer}`);

  step(`${policy}: 2. the lane says what was offered and accepted`);
  const shown = page.locator('[data-lane="ws"] [data-ws-extensions]');
  await page.locator('[data-lane="ws"] [data-ws-extensions][data-offered]').waitFor({ state: "attached", timeout: STEP_MS });
  const lane = await shown.evaluate((node) => ({ words: node.textContent, ...node.dataset }));
  const protocol = await page.locator('[data-lane="ws"] [data-ws-protocol]').textContent();
  step(`   the lane: "${protocol}" · "${lane.words}"`);
  check(protocol === "pushlab.v1", `the lane's protocol says "${protocol}"`);
  check(lane.offered === sent["sec-websocket-extensions"], `the lane's offered "${lane.offered}" is not what Chromium sent`);
  check(lane.accepted === (answer ?? ""), `the lane's accepted "${lane.accepted}"`);
  check(lane.extensions === (answer ?? ""), `socket.extensions is "${lane.extensions}"`);
  const words = { "no-context-takeover": /^compressed: each message alone$/, on: /^compressed: each using the ones before$/, off: /^not compressed: offered, the server declined$/ }[policy];
  check(words.test(lane.words), `the lane says "${lane.words}"`);

  // The wire view open: the server records this tab's frames from now on.
  const band = page.locator('[data-lane="ws"] .timeline rect.band[data-exchange]').last();
  await band.waitFor({ state: "attached", timeout: STEP_MS });
  await band.dispatchEvent("click");
  await page.locator('[data-wire][data-wire-for^="ws-"]').waitFor({ state: "attached", timeout: STEP_MS });

  step(`${policy}: 3. the saving beside the bytes, and its figures true to the wire`);
  const saving = page.locator('[data-lane="ws"] [data-ws-saving]');
  if (answer) {
    const figures = await until(
      () =>
        saving.evaluate((node, least) => {
          if (node.hidden || !(Number(node.dataset.messages) >= least)) return null;
          const { measured, computed, messages } = node.dataset;
          return { text: node.textContent, measured: Number(measured), computed: Number(computed), messages: Number(messages) };
        }, WINDOW_MESSAGES),
      "the lane's saving",
      SAVING_MS,
    );
    step(`   the lane: "${figures.text}", over ${figures.messages} messages`);
    check(/^compressed: \d+ B a message, not \d+ \([−+]\d+ %\)$/.test(figures.text), `the saving reads "${figures.text}"`);
    const title = await saving.getAttribute("title");
    check(/measured/.test(title) && /computed/.test(title), "the saving's title says what is measured and what is computed");
    // Measured: as the server's wire log has the message frames down (the
    // only text frames yet: nothing was published).
    const exchange = (await wireLog(page, tab)).exchanges.findLast((e) => e.technique === "ws");
    const onWire = average(exchange.parts.filter((p) => p.dir === "out" && (Buffer.from(p.bytes, "base64")[0] & 0x0f) === 1).map((p) => p.len));
    // Computed: as the messages Chromium handed the page would have gone uncompressed.
    const plain = average(received.filter((text) => text.startsWith('{"type":"message"')).map(uncompressedFrame));
    step(`   the wire log's text frames down: ${onWire.toFixed(1)} B on average; Chromium's messages uncompressed: ${plain.toFixed(1)} B`);
    check(near(figures.measured, onWire, 0.1, 3), `the lane measured ${figures.measured} B a message, the wire log's frames are ${onWire.toFixed(1)}`);
    check(near(figures.computed, plain, 0.03, 2), `the lane computed ${figures.computed} B uncompressed, the messages make ${plain.toFixed(1)}`);
    // With context takeover a message shrinks to its changing values.
    if (policy === "on") check(figures.measured < figures.computed / 2, `with context takeover ${figures.measured} B a message, uncompressed ${figures.computed}`);
  } else {
    check(await saving.isHidden(), "a saving is shown although nothing is compressed");
  }

  step(`${policy}: 4. the frames both ways, as the server recorded them`);
  const published = `compressed up the socket ${Date.now()}`;
  await publishOverSocket(page, published);
  const frames = await until(async () => {
    const exchange = (await wireLog(page, tab)).exchanges.findLast((e) => e.technique === "ws");
    const parts = exchange?.parts.map((p) => ({ dir: p.dir, bytes: Buffer.from(p.bytes, "base64") })) ?? [];
    const down = parts.find((p) => p.dir === "out" && (p.bytes[0] & 0x0f) === 1 && isMessage(p.bytes));
    const up = parts.find((p) => p.dir === "in" && (p.bytes[0] & 0x0f) === 1);
    return down && up && { down: down.bytes, up: up.bytes };
  }, "a message frame down and the publish frame up in the server's wire log");
  const rsv1 = (bytes) => (bytes[0] >> 6) & 1;
  step(`   down: first byte ${hexByte(frames.down[0])} (RSV1 ${rsv1(frames.down)}), ${frames.down.length} bytes; up: ${hexByte(frames.up[0])} (RSV1 ${rsv1(frames.up)}), ${frames.up.length} bytes`);
  check(rsv1(frames.down) === (answer ? 1 : 0), `a message frame down has RSV1 ${rsv1(frames.down)}`);
  check(rsv1(frames.up) === (answer ? 1 : 0), `the browser's publish frame has RSV1 ${rsv1(frames.up)}`);
  if (alone) {
    const text = inflateAlone(payloadOf(frames.down)).toString("utf8");
    check(JSON.parse(text).type === "message", `the frame down inflated to ${text}`);
    step(`   the frame down inflates, alone, to ${text.length} bytes: ${text.slice(0, 60)}…`);
  }

  step(`${policy}: 5. the page's wire view: RSV1, and the text inflated (or why not)`);
  const up = page.locator('[data-wire] [data-frame][data-dir="in"]').filter({ has: page.locator('[data-field="opcode"] dd', { hasText: "0x1" }) }).last();
  await up.waitFor({ timeout: STEP_MS });
  const upRsv1 = await up.locator('[data-field="rsv1"] dd').textContent();
  check(upRsv1 === (answer ? "1" : "0"), `the wire view shows the publish frame's RSV1 as ${upRsv1}`);
  const note = await page.locator('[data-wire] [data-part="extensions-note"]').textContent();
  step(`   the handshake's note: ${note}`);
  check(answer ? note.includes("RSV1 = 1") && note.includes(answer) : note.includes("uncompressed"), "the wire view's note on the handshake");
  if (policy === "on") {
    const why = await up.locator('[data-part="frame-inflate-note"]').textContent({ timeout: STEP_MS });
    check(/cannot be inflated alone/.test(why), `the wire view says of a frame with context takeover: ${why}`);
  } else {
    // Compressed alone, it shows inflated; uncompressed, as it went.
    const mine = page.locator('[data-wire] [data-frame][data-dir="in"]').filter({ hasText: published }).first();
    await mine.waitFor({ timeout: STEP_MS });
    const text = await mine.locator('[data-part="frame-text"]').textContent();
    check(JSON.parse(text).text === published, `the wire view shows the publish frame as ${text}`);
  }

  await page.keyboard.press("Escape");
  await page.locator("[data-wire-panel]").waitFor({ state: "hidden", timeout: STEP_MS });
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot });
  step(`screenshot in ${shot}`);
}, shot.replace(/\.png$/, "-failure.png"));

// ---- helpers ----

function check(ok, what) {
  if (!ok) throw new Error(what);
}

// Polls `probe` until it returns something truthy, for at most `ms`.
async function until(probe, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// The WebSocket handshakes of a page, as DevTools' Network panel sees them:
// {url, request, response}, the headers as Chromium sent and received them.
async function recordHandshakes(context, page) {
  const byId = new Map();
  const of = (requestId) => byId.get(requestId) ?? byId.set(requestId, { url: "", request: null, response: null }).get(requestId);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketCreated", ({ requestId, url }) => {
    of(requestId).url = url;
  });
  cdp.on("Network.webSocketWillSendHandshakeRequest", ({ requestId, request }) => {
    of(requestId).request = request;
  });
  cdp.on("Network.webSocketHandshakeResponseReceived", ({ requestId, response }) => {
    of(requestId).response = response;
  });
  return byId;
}

function lower(headers) {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
}

async function wireLog(page, tab) {
  return page.evaluate(async (tab) => (await fetch(`/api/tabs/${tab}/wire`)).json(), tab);
}

// Publishes `text` through the page's box, up its WebSocket.
async function publishOverSocket(page, text) {
  const form = page.locator('form[data-action="publish"]');
  await form.locator('[name="author"]').fill("compression test");
  await form.locator('[name="text"]').fill(text);
  await form.locator('[name="via"]').selectOption("ws");
  await form.locator('button[type="submit"]').click();
}

// A whole frame from the server (never masked): its payload.
function payloadOf(bytes) {
  const short = bytes[1] & 0x7f;
  return bytes.subarray(short === 126 ? 4 : short === 127 ? 10 : 2);
}

// A frame from the server that carries a message. Uncompressed, its payload
// says so; compressed alone, it inflates to one; compressed with context
// takeover it refers back to earlier frames and does not inflate alone —
// but every such frame is compressed, which is what this test looks for.
function isMessage(bytes) {
  const payload = payloadOf(bytes);
  if (!((bytes[0] >> 6) & 1)) return payload.toString("utf8").startsWith('{"type":"message"');
  try {
    return inflateAlone(payload).toString("utf8").startsWith('{"type":"message"');
  } catch {
    return policy === "on";
  }
}

// A message compressed alone, inflated: the `00 00 ff ff` its sender left
// off put back, and an empty final block so the stream ends there.
function inflateAlone(payload) {
  return inflateRawSync(Buffer.concat([payload, Buffer.from([0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff])]));
}

function average(values) {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

// `value` is within `share` of `want`, or within `bytes` of it.
function near(value, want, share, bytes) {
  return Math.abs(value - want) <= Math.max(share * want, bytes);
}

// A message's frame from the server, uncompressed: its UTF-8 bytes and a
// 2-byte header (4 above 125 bytes).
function uncompressedFrame(text) {
  const length = Buffer.byteLength(text, "utf8");
  return length + (length <= 125 ? 2 : 4);
}

function hexByte(byte) {
  return byte.toString(16).padStart(2, "0");
}
