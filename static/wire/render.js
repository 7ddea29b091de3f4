// Draws one recorded exchange as text: what the browser sent (request line,
// headers, body) and what the server sent back (status line, headers, body
// — chunk framing included, as it went), with their sizes; for a WebSocket,
// the handshake and then each frame both ways, taken apart by frame.js.
// Everything from the wire is set as textContent, never as HTML: a
// message's text is someone's input.

import { decode, bodyBytes, text } from "./bytes.js";
import { hex, parseFrame, payloadText } from "./frame.js";

// Frames and chunks shown as text at most this long (characters).
const TEXT_SHOWN = 600;

// Makes an element with text; `attributes` go on as attributes.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function bytesWord(n) {
  return `${n.toLocaleString("en")} ${n === 1 ? "byte" : "bytes"}`;
}

// The server's µs timestamp as this browser's wall clock, 14:03:05.123.
function clockTime(us, clock) {
  const date = new Date((us - clock.offsetUs) / 1000);
  return `${date.toLocaleTimeString("en-GB", { hour12: false })}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

const NAMES = { poll: "short poll", longpoll: "long-poll", sse: "SSE", ws: "WebSocket" };

// Fills `target` (the [data-wire] element) with `exchange`, after `note`
// if there is one.
export function render(target, exchange, clock, note) {
  const requestHead = decode(exchange.request_head);
  const responseHead = exchange.response_head === null ? null : decode(exchange.response_head);
  const bodyIn = exchange.bytes_in - requestHead.length;
  const bodyOut = exchange.bytes_out - (responseHead?.length ?? 0);
  target.dataset.wireExchange = exchange.id;
  target.dataset.technique = exchange.technique;

  const summary = el(
    "p",
    { class: "wire-summary" },
    `${NAMES[exchange.technique]} · exchange ${exchange.id} · started ${clockTime(exchange.started_at_us, clock)} · `,
    el("strong", {}, `${bytesWord(exchange.bytes_in)} in, ${bytesWord(exchange.bytes_out)} out`),
    " — what this tab's figures counted for it. Every line of a head ends in CR LF (2 bytes).",
  );
  const sent = el(
    "section",
    { class: "wire-side", "data-side": "request" },
    el("h3", {}, `browser → server · ${bytesWord(exchange.bytes_in)}: head ${bytesWord(requestHead.length)}${bodyIn ? ` + ${bytesWord(bodyIn)} of ${exchange.technique === "ws" ? "frames" : "body"}` : ""}`),
    el("pre", { "data-part": "request-head" }, text(requestHead)),
  );
  const answered = el(
    "section",
    { class: "wire-side", "data-side": "response" },
    el("h3", {}, responseHead ? `server → browser · ${bytesWord(exchange.bytes_out)}: head ${bytesWord(responseHead.length)} + body ${bytesWord(bodyOut)}` : "server → browser · no answer yet"),
    responseHead ? el("pre", { "data-part": "response-head" }, text(responseHead)) : null,
  );
  const parts = [sent, answered];
  const declined = declinedExtensions(text(requestHead), responseHead && text(responseHead));
  if (declined) answered.append(el("p", { class: "wire-note" }, declined));
  if (exchange.technique === "ws") {
    parts.push(frames(exchange, clock));
  } else if (exchange.technique === "sse") {
    answered.append(...chunks(exchange, clock));
  } else {
    if (bodyIn) sent.append(el("pre", { "data-part": "request-body" }, text(bodyBytes(exchange, "in"))));
    if (bodyOut) answered.append(el("pre", { "data-part": "response-body" }, text(bodyBytes(exchange, "out"))));
  }
  target.replaceChildren(note ? el("p", { class: "wire-note" }, note) : "", summary, ...parts);
}

// A WebSocket handshake's offer of extensions that the answer did not take
// up, said in words; null when there was none, or it was taken.
function declinedExtensions(request, response) {
  const offered = request.match(/^sec-websocket-extensions:\s*(.*?)\r?$/im)?.[1];
  if (!offered || !response?.startsWith("HTTP/1.1 101")) return null;
  if (/^sec-websocket-extensions:/im.test(response)) return null;
  return `The browser offered "${offered}"; the answer names no extension, so every frame goes uncompressed (RSV1 stays 0).`;
}

// What the view says when the clicked arrow has no recorded exchange.
export function renderMissing(target, why) {
  delete target.dataset.wireExchange;
  delete target.dataset.technique;
  target.replaceChildren(el("p", { class: "wire-missing" }, why));
}

// An SSE stream's chunks, each as the encoder framed it (`{size}\r\n` …
// `\r\n`), the newest last.
function chunks(exchange, clock) {
  const shown = [omitted(exchange, exchange.parts_dropped_out, "chunk")];
  for (const part of exchange.parts.filter((p) => p.dir === "out")) {
    shown.push(
      el("p", { class: "wire-when" }, `${clockTime(part.at_us, clock)} · chunk of ${bytesWord(part.len)}`),
      el("pre", { "data-part": "response-chunk" }, text(decode(part.bytes))),
    );
  }
  return shown.filter(Boolean);
}

// What of a stream is not shown: from before the view opened, and the
// older `dropped` ones that gave way to newer ones.
function omitted(exchange, dropped, what) {
  const notes = [];
  if (exchange.recorded_since_us !== null) {
    notes.push(`This stream was open before the wire view was: its ${what}s from before are not recorded.`);
  }
  if (dropped > 0) notes.push(`${dropped} older ${what}${dropped === 1 ? "" : "s"} gave way to newer ones.`);
  return notes.length ? el("p", { class: "wire-note" }, notes.join(" ")) : null;
}

// A WebSocket's frames both ways, in the order they went.
function frames(exchange, clock) {
  const list = el("ol", { class: "wire-frames" });
  for (const part of exchange.parts) list.append(frameItem(part, clock));
  return el(
    "section",
    { class: "wire-side", "data-side": "frames" },
    el("h3", {}, "frames, both ways, newest last"),
    omitted(exchange, exchange.parts_dropped_in + exchange.parts_dropped_out, "frame"),
    list,
  );
}

function frameItem(part, clock) {
  const bytes = decode(part.bytes);
  const frame = parseFrame(bytes);
  const way = part.dir === "in" ? "↑ browser → server" : "↓ server → browser";
  const item = el("li", { class: `wire-frame ${part.dir}`, "data-frame": "", "data-dir": part.dir });
  item.append(el("p", { class: "wire-when" }, `${way} · ${clockTime(part.at_us, clock)} · ${bytesWord(part.len)}`));
  if (!frame) {
    item.append(el("p", {}, `(cut short: ${hex(bytes)})`));
    return item;
  }
  const fields = el("dl", { class: "wire-fields" });
  const field = (name, key, value) => fields.append(el("div", { "data-field": key }, el("dt", {}, name), el("dd", {}, value)));
  field("FIN", "fin", String(frame.fin));
  field("RSV1", "rsv1", String(frame.rsv[0]));
  field("RSV2", "rsv2", String(frame.rsv[1]));
  field("RSV3", "rsv3", String(frame.rsv[2]));
  field("opcode", "opcode", `0x${frame.opcode.toString(16)} (${frame.opcodeName})`);
  field("MASK", "mask", String(frame.masked));
  field("length", "length", `${frame.length} (${frame.lengthBits}-bit${frame.lengthBits === 7 ? "" : `, after ${frame.lengthBits === 16 ? 126 : 127}`})`);
  field("masking key", "key", frame.key ? hex(frame.key) : "none");
  item.append(fields);
  item.append(
    el("p", {}, el("span", { class: "wire-label" }, "header: "), el("code", { "data-part": "frame-header" }, hex(bytes.slice(0, frame.headerLength)))),
    el("p", {}, el("span", { class: "wire-label" }, frame.masked ? "payload as sent (masked): " : "payload as sent: "), el("code", { "data-part": "frame-payload" }, hex(frame.payload))),
    el("p", {}, el("span", { class: "wire-label" }, "as text: "), el("code", { "data-part": "frame-text" }, shorten(payloadText(frame)))),
  );
  if (frame.cut) item.append(el("p", { class: "wire-note" }, `Only the first ${bytesWord(frame.payload.length)} of its payload are kept.`));
  return item;
}

function shorten(words) {
  return words.length > TEXT_SHOWN ? `${words.slice(0, TEXT_SHOWN)}…` : words;
}
