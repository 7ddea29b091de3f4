// What Chromium does with a 101 whose Sec-WebSocket-Protocol does not match
// what the script asked for (chapter 5, "Subprotocols"). pushlab never
// answers so, so this test brings its own server: a few lines of node:http
// that answer every WebSocket handshake with a correct 101
// (Sec-WebSocket-Accept from the key) naming the protocol in the URL's
// path — /answer/pushlab.v1, or /answer/none for no such header — then
// send one text frame "hello" and answer a close with a close.
//
// 1. `new WebSocket(url)`, no protocol asked for, answered `pushlab.v1`:
//    never opens; an `error` event, then `close` with 1006, not clean; the
//    reason is only in the browser's console, never told to the script;
// 2. `new WebSocket(url, "pushlab.v1")` with the very same answer opens,
//    `socket.protocol` is "pushlab.v1" and "hello" arrives: the 101 is
//    sound, only the protocol was wrong;
// 3. asked for `pushlab.v1` and answered none, or answered another one:
//    fails the same way.
//
//   node tests/browser/subprotocol.test.mjs target/browser/subprotocol.png
//
// tests/browser.rs runs this as part of `cargo test`. Every wait is bounded.

import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { STEP_MS, runInBrowser, step, watch } from "./harness.mjs";

const [screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: node subprotocol.test.mjs <screenshot.png>");
  process.exit(2);
}

// RFC 6455's fixed GUID: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// Chromium's console says why a handshake failed; the script never learns.
const HANDSHAKE_FAILED = /WebSocket connection to .* failed: Error during WebSocket handshake/;

// The handshakes the server saw: {path, protocol} (protocol: the request's
// Sec-WebSocket-Protocol, or null).
const asked = [];
const server = createServer((request, response) => {
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end("<!doctype html><title>subprotocol test</title>");
});
server.on("upgrade", (request, socket) => {
  socket.on("error", () => {}); // the browser may drop it at once: that is the test
  const path = new URL(request.url, "http://x").pathname;
  const named = decodeURIComponent(path.replace(/^\/answer\//, ""));
  asked.push({ path, protocol: request.headers["sec-websocket-protocol"] ?? null });
  const accept = createHash("sha1").update(`${request.headers["sec-websocket-key"]}${GUID}`).digest("base64");
  const head = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${accept}`];
  if (named !== "none") head.push(`Sec-WebSocket-Protocol: ${named}`);
  socket.write(`${head.join("\r\n")}\r\n\r\n`);
  socket.write(Buffer.from([0x81, 0x05, ...Buffer.from("hello")])); // FIN + text, 5 bytes
  // A close frame from the browser (opcode 8) is answered with one, 1000.
  socket.on("data", (bytes) => {
    if ((bytes[0] & 0x0f) === 0x8) socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

await runInBrowser(async (context) => {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "page", [HANDSHAKE_FAILED]);
  const consoleLines = [];
  page.on("console", (message) => consoleLines.push(message.text()));
  await page.goto(`${origin}/`, { timeout: STEP_MS });

  step("1. no protocol asked for, pushlab.v1 answered: the browser fails the connection");
  const unasked = await connect(page, "/answer/pushlab.v1", null);
  step(`   events: ${unasked.events.join(", ")}`);
  check(asked.at(-1).protocol === null, `the browser sent Sec-WebSocket-Protocol: ${asked.at(-1).protocol}`);
  check(!unasked.events.includes("open"), "the socket opened");
  check(unasked.events[0] === "error", `the first event was ${unasked.events[0]}`);
  check(unasked.close?.code === 1006 && !unasked.close.wasClean, `closed with ${JSON.stringify(unasked.close)}`);
  check(unasked.close.reason === "", `the script was told a reason: ${unasked.close.reason}`);
  const said = await consoleSays(consoleLines, "/answer/pushlab.v1");
  step(`   Chromium's console: ${said}`);
  check(/Sec-WebSocket-Protocol/.test(said), "the console does not name the protocol header");

  step("2. pushlab.v1 asked for, the same answer: it opens");
  const offered = await connect(page, "/answer/pushlab.v1", "pushlab.v1");
  step(`   events: ${offered.events.join(", ")}`);
  check(asked.at(-1).protocol === "pushlab.v1", `the browser sent Sec-WebSocket-Protocol: ${asked.at(-1).protocol}`);
  check(offered.events[0] === "open" && offered.protocol === "pushlab.v1", `events ${offered.events.join(", ")}, protocol "${offered.protocol}"`);
  check(offered.events.includes("message hello"), "the frame after the 101 did not arrive");
  check(offered.close?.code === 1000, `closed with ${JSON.stringify(offered.close)}`);

  for (const [path, what] of [
    ["/answer/none", "pushlab.v1 asked for, none answered"],
    ["/answer/other.v2", "pushlab.v1 asked for, other.v2 answered"],
  ]) {
    step(`3. ${what}: the browser fails the connection`);
    const result = await connect(page, path, "pushlab.v1");
    step(`   events: ${result.events.join(", ")}`);
    check(!result.events.includes("open") && result.close?.code === 1006, `events ${result.events.join(", ")}, close ${JSON.stringify(result.close)}`);
    step(`   Chromium's console: ${await consoleSays(consoleLines, path)}`);
  }
}, screenshot.replace(/\.png$/, "-failure.png")); // exits the process, and the server with it

// ---- helpers ----

function check(ok, what) {
  if (!ok) throw new Error(what);
}

// Opens a WebSocket to `path` from the page, asking for `protocol` (or
// none), and reports what the script saw: its events in order, the close
// event's code, reason and wasClean, and socket.protocol once open. The
// page closes it (1000) once a message came.
function connect(page, path, protocol) {
  return page.evaluate(
    ({ path, protocol, limit }) =>
      new Promise((resolve) => {
        const url = `ws://${location.host}${path}`;
        const socket = protocol === null ? new WebSocket(url) : new WebSocket(url, protocol);
        const seen = { events: [], close: null, protocol: null };
        const timer = setTimeout(() => resolve({ ...seen, events: [...seen.events, "no close in time"] }), limit);
        socket.addEventListener("open", () => {
          seen.events.push("open");
          seen.protocol = socket.protocol;
        });
        socket.addEventListener("message", (event) => {
          seen.events.push(`message ${event.data}`);
          socket.close(1000);
        });
        socket.addEventListener("error", () => seen.events.push("error"));
        socket.addEventListener("close", (event) => {
          clearTimeout(timer);
          seen.events.push("close");
          seen.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
          resolve(seen);
        });
      }),
    { path, protocol, limit: STEP_MS },
  );
}

// The console line in which Chromium said why the connection to `path`
// failed (it may come a moment after the close event).
async function consoleSays(lines, path) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const line = lines.find((text) => HANDSHAKE_FAILED.test(text) && text.includes(`${path}'`));
    if (line) return line.replace(/ws:\/\/127\.0\.0\.1:\d+/, "ws://…");
    if (Date.now() > deadline) throw new Error(`no console message on ${path}: ${lines.join(" | ")}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
