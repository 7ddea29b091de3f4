// The server's wire log sends bytes as base64 (they are the wire's, not
// necessarily text). Here they become bytes again, and text to show: UTF-8,
// as HTTP heads, JSON and SSE are; a byte that is not UTF-8 shows as �.

const utf8 = new TextDecoder("utf-8");

export function decode(base64) {
  const binary = atob(base64 ?? "");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function text(bytes) {
  return utf8.decode(bytes);
}

// An exchange's recorded body chunks one way ("in" or "out"), joined.
export function bodyBytes(exchange, dir) {
  const parts = exchange.parts.filter((part) => part.dir === dir).map((part) => decode(part.bytes));
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

export function bodyText(exchange, dir) {
  return text(bodyBytes(exchange, dir));
}
