// Draws one recorded exchange as text: what the browser sent (request line,
// headers, body) and what the server sent back (status line, headers, body
// — chunk framing included, as it went), with their sizes; for a WebSocket,
// the handshake and then each frame both ways, taken apart by frame.js.
// Everything from the wire is set as textContent, never as HTML: a
// message's text is someone's input.
//
// When the handshake agreed on compression (permessage-deflate), a frame
// with RSV1 = 1 starts a compressed message: its payload is shown as it
// went, and — when its sender compressed each message alone — inflated
// too, which takes a moment (DecompressionStream), so that text is filled
// in once it is ready. A frame compressed with context takeover refers back
// to earlier messages and cannot be inflated alone: the view says so.

import { decode, bodyBytes, text } from "./bytes.js";
import { hex, parseFrame, payloadText } from "./frame.js";
import { inflate, inflatedBefore, parseAnswer } from "../deflate.js";

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
  // What the counters counted for each head: the text's length over
  // HTTP/1.1; over HTTP/2, HPACK's estimate of the HEADERS frame, while the
  // text below is the fields decoded (wire.js says so).
  const requestHeadBytes = exchange.request_head_bytes ?? requestHead.length;
  const responseHeadBytes = exchange.response_head_bytes ?? responseHead?.length ?? 0;
  const bodyIn = exchange.bytes_in - requestHeadBytes;
  const bodyOut = exchange.bytes_out - responseHeadBytes;
  const headWord = (counted, shown) => (counted === shown ? bytesWord(counted) : `≈ ${bytesWord(counted)} (HPACK's estimate; ${bytesWord(shown)} as text below)`);
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
    el("h3", {}, `browser → server · ${bytesWord(exchange.bytes_in)}: head ${headWord(requestHeadBytes, requestHead.length)}${bodyIn ? ` + ${bytesWord(bodyIn)} of ${exchange.technique === "ws" ? "frames" : "body"}` : ""}`),
    el("pre", { "data-part": "request-head" }, text(requestHead)),
  );
  const answered = el(
    "section",
    { class: "wire-side", "data-side": "response" },
    el("h3", {}, responseHead ? `server → browser · ${bytesWord(exchange.bytes_out)}: head ${headWord(responseHeadBytes, responseHead.length)} + body ${bytesWord(bodyOut)}` : "server → browser · no answer yet"),
    responseHead ? el("pre", { "data-part": "response-head" }, text(responseHead)) : null,
  );
  const parts = [sent, answered];
  const handshake = extensions(text(requestHead), responseHead && text(responseHead));
  if (handshake.note) answered.append(el("p", { class: "wire-note", "data-part": "extensions-note" }, handshake.note));
  if (exchange.technique === "ws") {
    parts.push(frames(exchange, clock, handshake.deflate));
  } else if (exchange.technique === "sse") {
    answered.append(...chunks(exchange, clock));
  } else {
    if (bodyIn) sent.append(el("pre", { "data-part": "request-body" }, text(bodyBytes(exchange, "in"))));
    if (bodyOut) answered.append(el("pre", { "data-part": "response-body" }, text(bodyBytes(exchange, "out"))));
  }
  target.replaceChildren(note ? el("p", { class: "wire-note" }, note) : "", summary, ...parts);
}

// What a WebSocket handshake settled on extensions: {note, deflate}, the
// note in words (null when nothing was offered, or this is no 101) and
// deflate.js's parseAnswer of the answer (null: no compression).
function extensions(request, response) {
  const header = (head) => head?.match(/^sec-websocket-extensions:\s*(.*?)\r?$/im)?.[1];
  const offered = header(request);
  if (!offered || !response?.startsWith("HTTP/1.1 101")) return { note: null, deflate: null };
  const answer = header(response);
  const deflate = parseAnswer(answer);
  if (!answer) {
    return { note: `The browser offered "${offered}"; the answer names no extension, so every frame goes uncompressed (RSV1 stays 0).`, deflate };
  }
  if (!deflate) return { note: `The browser offered "${offered}"; the server answered "${answer}".`, deflate };
  const way = (who, alone) =>
    alone
      ? `${who} each message alone (no context takeover), so this view inflates its compressed frames`
      : `${who} every message with the ones before it as its dictionary (context takeover), so its frames refer back to earlier messages and cannot be inflated alone`;
  const ways =
    deflate.serverAlone === deflate.clientAlone
      ? way("Both sides compress", deflate.serverAlone)
      : `${way("The server compresses", deflate.serverAlone)}; ${way("the browser compresses", deflate.clientAlone)}`;
  return {
    note:
      `The browser offered "${offered}"; the server accepted "${answer}". A frame with RSV1 = 1 is the first of a ` +
      "compressed message: its payload is DEFLATE, with the last 4 bytes (00 00 ff ff) left off; control frames " +
      `(ping, pong, close) never are. ${ways}.`,
    deflate,
  };
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

// A WebSocket's frames both ways, in the order they went; `deflate` is
// what the handshake settled on compression (null: none).
function frames(exchange, clock, deflate) {
  const list = el("ol", { class: "wire-frames" });
  for (const part of exchange.parts) list.append(frameItem(part, clock, deflate));
  return el(
    "section",
    { class: "wire-side", "data-side": "frames" },
    el("h3", {}, "frames, both ways, newest last"),
    omitted(exchange, exchange.parts_dropped_in + exchange.parts_dropped_out, "frame"),
    list,
  );
}

function frameItem(part, clock, deflate) {
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
  const compressed = Boolean(deflate) && frame.rsv[0] === 1;
  const sentAs = [frame.masked && "masked", compressed && "compressed"].filter(Boolean).join(", ");
  item.append(
    el("p", {}, el("span", { class: "wire-label" }, "header: "), el("code", { "data-part": "frame-header" }, hex(bytes.slice(0, frame.headerLength)))),
    el("p", {}, el("span", { class: "wire-label" }, sentAs ? `payload as sent (${sentAs}): ` : "payload as sent: "), el("code", { "data-part": "frame-payload" }, hex(frame.payload))),
  );
  if (compressed) item.append(...inflated(frame, part, deflate));
  else item.append(el("p", {}, el("span", { class: "wire-label" }, "as text: "), el("code", { "data-part": "frame-text" }, shorten(payloadText(frame)))));
  if (frame.cut) item.append(el("p", { class: "wire-note" }, `Only the first ${bytesWord(frame.payload.length)} of its payload are kept.`));
  return item;
}

// A compressed message's first frame: its text inflated (filled in when
// ready), or why it cannot be.
function inflated(frame, part, deflate) {
  const alone = part.dir === "out" ? deflate.serverAlone : deflate.clientAlone;
  const sender = part.dir === "out" ? "The server" : "The browser";
  let why = null;
  if (!alone) {
    why = `RSV1 = 1: compressed. ${sender} compressed it with the messages before it as its dictionary (context takeover): it refers back to bytes of earlier messages, so it cannot be inflated alone.`;
  } else if (!frame.fin) {
    why = "RSV1 = 1: compressed, and only the first fragment of its message: it inflates only together with the fragments that follow.";
  } else if (frame.cut) {
    why = "RSV1 = 1: compressed; only part of it is kept, so it is not inflated here.";
  }
  if (why) return [el("p", { class: "wire-note", "data-part": "frame-inflate-note" }, why)];

  const key = `${part.dir} ${part.bytes}`;
  const label = `as text (RSV1 = 1: inflated from ${bytesWord(frame.payload.length)}): `;
  const shown = el("code", { "data-part": "frame-text" });
  const known = inflatedBefore(key);
  if (known !== undefined) {
    shown.textContent = shorten(asText(frame, known));
  } else {
    shown.textContent = "inflating…";
    shown.dataset.pending = "";
    inflate(frame.unmasked, key)
      .then((inflatedBytes) => {
        shown.textContent = shorten(asText(frame, inflatedBytes));
      })
      .catch((error) => {
        shown.textContent = `(it did not inflate: ${error.message})`;
      })
      .finally(() => delete shown.dataset.pending);
  }
  return [el("p", {}, el("span", { class: "wire-label" }, label), shown)];
}

// An inflated payload as text: a text message's words, a binary one's size.
function asText(frame, bytes) {
  return frame.opcode === 0x2 ? `${bytesWord(bytes.length)} (binary)` : text(bytes);
}

function shorten(words) {
  return words.length > TEXT_SHOWN ? `${words.slice(0, TEXT_SHOWN)}…` : words;
}
