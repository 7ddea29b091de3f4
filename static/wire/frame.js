// One WebSocket frame, taken apart byte by byte (RFC 6455, section 5.2).
//
//   byte 0:  FIN (1 bit) · RSV1 RSV2 RSV3 (1 bit each) · opcode (4 bits)
//   byte 1:  MASK (1 bit) · payload length (7 bits)
//            126 → the real length follows in the next 2 bytes (16-bit)
//            127 → the real length follows in the next 8 bytes (64-bit)
//   then:    the masking key (4 bytes), if MASK is 1
//   then:    the payload
//
// Every frame a browser sends is masked: its payload is XORed with the four
// key bytes in turn (byte i with key[i % 4]), so what goes over the wire is
// not the text the page sent. A server's frames are never masked. A frame
// that is not the last of its message has FIN 0; the RSV bits stay 0 unless
// an extension was agreed in the handshake (permessage-deflate sets RSV1 on
// compressed messages).

const OPCODES = {
  0x0: "continuation",
  0x1: "text",
  0x2: "binary",
  0x8: "close",
  0x9: "ping",
  0xa: "pong",
};

// `bytes` (a Uint8Array) holds one frame from its first byte; it may be cut
// short (the server keeps at most 16 KiB of a frame). Returns its fields, or
// null when not even the header is there.
export function parseFrame(bytes) {
  if (bytes.length < 2) return null;
  const fin = bytes[0] >> 7;
  const rsv = [(bytes[0] >> 6) & 1, (bytes[0] >> 5) & 1, (bytes[0] >> 4) & 1];
  const opcode = bytes[0] & 0x0f;
  const masked = bytes[1] >> 7;
  const short = bytes[1] & 0x7f;

  let offset = 2;
  let lengthBits = 7;
  let length = short;
  if (short === 126) {
    lengthBits = 16;
    length = (bytes[2] << 8) | bytes[3];
    offset = 4;
  } else if (short === 127) {
    lengthBits = 64;
    length = 0;
    for (let i = 2; i < 10; i++) length = length * 256 + bytes[i];
    offset = 10;
  }

  const key = masked ? bytes.slice(offset, offset + 4) : null;
  if (masked) offset += 4;
  if (bytes.length < offset) return null;

  const payload = bytes.slice(offset, offset + length); // as sent
  const unmasked = key ? payload.map((byte, i) => byte ^ key[i % 4]) : payload;
  return {
    fin,
    rsv,
    opcode,
    opcodeName: OPCODES[opcode] ?? "reserved",
    masked,
    lengthBits,
    length,
    headerLength: offset,
    key,
    payload,
    unmasked,
    cut: payload.length < length,
  };
}

// What the payload says: text frames as text; a close frame's status code
// and reason; anything else as a byte count.
export function payloadText(frame) {
  const decoder = new TextDecoder("utf-8");
  if (frame.opcode === 0x1 || frame.opcode === 0x0) return decoder.decode(frame.unmasked);
  if (frame.opcode === 0x8 && frame.unmasked.length >= 2) {
    const code = (frame.unmasked[0] << 8) | frame.unmasked[1];
    return `status ${code} ${decoder.decode(frame.unmasked.slice(2))}`.trim();
  }
  if (frame.opcode === 0x9 || frame.opcode === 0xa) return decoder.decode(frame.unmasked);
  return `${frame.unmasked.length} bytes`;
}

// Bytes as hex pairs, "81 a5 12 34", at most `max` of them.
export function hex(bytes, max = 48) {
  const shown = Array.from(bytes.slice(0, max), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > max ? `${shown} … (${bytes.length - max} more)` : shown;
}
