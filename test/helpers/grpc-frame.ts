// gRPC's length-prefixed messages, built and split by hand for tests that
// talk to the daemon over bare node:http2.

/** One length-prefixed message: a flag byte, a 4-byte big-endian length, then the payload. */
export function grpcFrame(payload: Uint8Array, options: { flag?: number; declaredLength?: number } = {}): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = options.flag ?? 0;
  prefix.writeUInt32BE(options.declaredLength ?? payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

export function splitMessages(body: Buffer): { messages: Buffer[]; leftover: number } {
  const messages: Buffer[] = [];
  let at = 0;
  while (body.length - at >= 5) {
    const length = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < length) break;
    messages.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return { messages, leftover: body.length - at };
}
