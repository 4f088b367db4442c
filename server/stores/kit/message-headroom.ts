// Free bytes in front of a chunk, where the gRPC port can write a ReadRaw
// message's protobuf header (tag + length) instead of copying the chunk
// behind a new one (server/transports/chunk-encoding.ts). That copy was
// half of the daemon's allocations per byte read, and every allocated byte
// brings the next full GC closer. Stores allocate the buffers they read into
// or keep with room in front. Nothing else may write there.

/** Room a ReadRaw chunk header needs: a 1-byte tag and a varint length of up to 5 bytes. */
export const MESSAGE_HEADROOM_BYTES = 8;

/** Per backing buffer: where its data starts; the bytes before are free. */
const dataStarts = new WeakMap<ArrayBufferLike, number>();

/** A buffer of its own (not a slice of Node's shared pool) for `bytes` bytes, with free room in front. */
export function allocateWithHeadroom(bytes: number): Buffer {
  const whole = Buffer.allocUnsafeSlow(MESSAGE_HEADROOM_BYTES + bytes);
  dataStarts.set(whole.buffer, MESSAGE_HEADROOM_BYTES);
  return whole.subarray(MESSAGE_HEADROOM_BYTES);
}

/** How many bytes in front of `chunk` are free: 0 unless the chunk starts where its buffer's data does. */
export function headroomOf(chunk: Uint8Array): number {
  return dataStarts.get(chunk.buffer) === chunk.byteOffset ? chunk.byteOffset : 0;
}
