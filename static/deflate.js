// permessage-deflate (RFC 7692) as the page sees it: what the handshake
// settled, said in words; what a message would have cost uncompressed; and
// inflating one compressed frame for the wire view.
//
// The browser offers `permessage-deflate; client_max_window_bits` on every
// WebSocket; the server's 101 answers with the parameters it accepts, or
// leaves the header out (no compression). A script sees only the answer
// (`socket.extensions`), so pushlab's hello frame also says what was
// offered. Two parameters of the answer decide what a compressed frame can
// be read without:
// - `server_no_context_takeover`: the server compresses each message alone
//   (server → browser frames);
// - `client_no_context_takeover`: so does the browser (browser → server).
// Without them each side keeps its compressor's window from one message to
// the next (context takeover): a message refers back to bytes of earlier
// ones, which is what makes small, alike messages shrink, and a frame can
// then be inflated only by someone who saw every message before it.
//
// A compressed message's first frame has RSV1 = 1; its payload is raw
// DEFLATE whose last 4 bytes (`00 00 ff ff`, the end of an empty "sync"
// block) the sender left off.

// The extension's name in the headers.
const PERMESSAGE_DEFLATE = "permessage-deflate";

// What the sender left off (the empty block's `00 00 ff ff`), and an empty
// final block (`01 00 00 ff ff`) so the stream ends where the message does:
// without it DecompressionStream reports the input as cut short.
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff]);

// Frames inflated so far (key → bytes), so redrawing the wire view each
// second shows them at once; the oldest give way.
const INFLATED_KEPT = 200;
const inflatedCache = new Map();

// The server's answer (a Sec-WebSocket-Extensions value, or null) as
// {serverAlone, clientAlone}: whether each side compresses every message
// alone; null when it names no permessage-deflate (no compression).
export function parseAnswer(answer) {
  if (!answer) return null;
  for (const element of answer.split(",")) {
    const [name, ...params] = element.split(";").map((part) => part.trim().toLowerCase());
    if (name !== PERMESSAGE_DEFLATE) continue;
    return {
      serverAlone: params.includes("server_no_context_takeover"),
      clientAlone: params.includes("client_no_context_takeover"),
    };
  }
  return null;
}

// The handshake in plain words for the lane: {words, title}. `offered` and
// `accepted` are the hello frame's (the request's header as sent, the
// server's answer); `protocol` is `socket.protocol`.
export function describe({ offered, accepted, protocol }) {
  const deflate = parseAnswer(accepted);
  let words;
  if (!offered) words = "not compressed: this browser offered no compression";
  else if (!deflate) words = "not compressed: offered, the server declined";
  else words = `compressed: ${howCompressed(deflate)}`;
  const title = [
    `This browser offered: ${offered ?? "nothing (no Sec-WebSocket-Extensions)"}.`,
    `The server accepted: ${accepted ?? "nothing (no Sec-WebSocket-Extensions in its 101), so every frame goes uncompressed"}.`,
    deflate ? contextWords(deflate) : null,
    `Subprotocol: ${protocol ? `${protocol} (asked for by the page, named in the 101)` : "none named in the 101"}.`,
  ];
  return { words, title: title.filter(Boolean).join("\n") };
}

// How each direction compresses, in as few words as a lane has room for.
function howCompressed({ serverAlone, clientAlone }) {
  const way = (alone) => (alone ? "each message alone" : "each using the ones before");
  if (serverAlone === clientAlone) return way(serverAlone);
  return `↓ ${way(serverAlone)}, ↑ ${way(clientAlone)}`;
}

function contextWords({ serverAlone, clientAlone }) {
  const side = (who, alone) =>
    alone
      ? `${who} compresses each message alone (no context takeover): less saving, nothing kept between messages.`
      : `${who} keeps its compressor from one message to the next (context takeover): a message refers back to the ones before and shrinks more.`;
  return `${side("The server", serverAlone)} ${side("The browser", clientAlone)}`;
}

// A message's frame size had it gone uncompressed: its UTF-8 bytes and a
// header of 2 bytes (length up to 125), 4 (up to 65,535) or 10. A frame
// from the server is never masked, so no masking key.
export function uncompressedFrameBytes(text) {
  const length = new TextEncoder().encode(text).length;
  return length + (length <= 125 ? 2 : length <= 0xffff ? 4 : 10);
}

// The bytes a compressed message's payload inflated to, if it was
// inflated before (as `key`), else undefined.
export function inflatedBefore(key) {
  return inflatedCache.get(key);
}

// Inflates `payload` (one whole compressed message, compressed alone:
// without context takeover) to its bytes (a Uint8Array); `key` names it
// for inflatedBefore. Rejects with DecompressionStream's error if it is
// not such a message.
export async function inflate(payload, key) {
  const stream = new Blob([payload, TAIL]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  inflatedCache.set(key, bytes);
  if (inflatedCache.size > INFLATED_KEPT) inflatedCache.delete(inflatedCache.keys().next().value);
  return bytes;
}
