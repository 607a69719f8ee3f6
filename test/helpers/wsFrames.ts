/** One frame a client sent, unmasked. */
export interface ClientFrame {
  readonly opcode: number;
  readonly fin: boolean;
  readonly payload: Buffer;
}

/**
 * Parses the raw bytes a client wrote to a TCP connection (as recorded by the raw servers of
 * ./server.ts): skips the HTTP upgrade request when the bytes start with one (the deaf
 * server records only what follows the upgrade), then reads frame by frame (RFC 6455 §5.2;
 * client frames are always masked). Searching the bytes for an opcode instead would misfire
 * on masks and masked payloads, which are random. A truncated last frame is left out.
 */
export function clientFrames(bytes: Buffer): ClientFrame[] {
  let at = 0;
  if (bytes.subarray(0, 4).toString('latin1') === 'GET ') {
    const headerEnd = bytes.indexOf('\r\n\r\n');
    if (headerEnd === -1) return [];
    at = headerEnd + 4;
  }
  const frames: ClientFrame[] = [];
  while (at + 2 <= bytes.length) {
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    let length = b1 & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (offset + 2 > bytes.length) break;
      length = bytes.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (offset + 8 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(offset));
      offset += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const mask = masked ? bytes.subarray(offset, offset + 4) : undefined;
    if (masked) offset += 4;
    if (offset + length > bytes.length) break;
    const payload = Buffer.from(bytes.subarray(offset, offset + length));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
    frames.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload });
    at = offset + length;
  }
  return frames;
}

/** The code and reason of the first close frame (opcode 8) among `frames`, if any. */
export function closeFrameOf(frames: readonly ClientFrame[]): { code: number; reason: string } | undefined {
  const close = frames.find((f) => f.opcode === 0x8);
  if (!close) return undefined;
  return close.payload.length >= 2
    ? { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString('utf8') }
    : { code: 1005, reason: '' };
}
