// The data bytes a message carries, as the call guard charges them to the
// in-flight byte budget (stream-budget.ts) and the call log counts them: a
// stream's data chunk (`oneof body { ...; bytes chunk = 2; }`) or a
// protobuf message's encoded value (WriteProtobuf, ReadProtobuf). Headers,
// references and options are not payload.

/** Payload bytes a message carries: a data chunk, or a protobuf message's encoded value. */
export function payloadBytes(message: unknown): number {
  if (typeof message !== "object" || message === null) return 0;
  const m = message as { body?: { case?: unknown; value?: unknown }; message?: { value?: unknown } };
  if (m.body?.case === "chunk" && m.body.value instanceof Uint8Array) return m.body.value.length;
  if (m.message?.value instanceof Uint8Array) return m.message.value.length;
  return 0;
}

/**
 * Cuts a chunk message (`{ body: { case: "chunk", value } }`) after its
 * first `bytes` data bytes: returns that part and the rest, or the message
 * itself and undefined when it carries no more than `bytes` (or is no
 * chunk). The parts share the chunk's memory. The call guard sends a ReadRaw
 * message in pieces of what the stream may take from the byte budget, so a
 * contended budget means smaller messages, not waits.
 */
export function splitChunkMessage(message: unknown, bytes: number): [unknown, unknown] {
  const m = message as { body?: { case?: unknown; value?: unknown } } | null;
  const body = m?.body;
  if (body?.case !== "chunk" || !(body.value instanceof Uint8Array) || body.value.length <= bytes) return [message, undefined];
  const value = body.value;
  return [
    { ...m, body: { ...body, value: value.subarray(0, bytes) } },
    { ...m, body: { ...body, value: value.subarray(bytes) } },
  ];
}
