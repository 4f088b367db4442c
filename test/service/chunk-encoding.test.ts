// The hand-written ReadRaw chunk encoding must be exactly protobuf's.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RawStoreService, ReadRawResponseSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { encodeChunkMessage, readRawChunk } from "../../server/transports/chunk-encoding.js";
import { allocateWithHeadroom, headroomOf, MESSAGE_HEADROOM_BYTES } from "../../server/stores/kit/message-headroom.js";

describe("ReadRaw chunk encoding", () => {
  it.each([0, 1, 127, 128, 16_383, 16_384, 1024 * 1024, 2_097_151, 2_097_152])("matches toBinary for %i bytes", (size) => {
    const chunk = Uint8Array.from({ length: size }, (_, i) => i % 251);
    const message = create(ReadRawResponseSchema, { body: { case: "chunk", value: chunk } });
    const fast = encodeChunkMessage(chunk);
    expect(Buffer.from(fast).equals(Buffer.from(toBinary(ReadRawResponseSchema, message)))).toBe(true);
    const decoded = fromBinary(ReadRawResponseSchema, fast).body;
    expect(decoded.case).toBe("chunk");
    expect(Buffer.from(decoded.value as Uint8Array).equals(chunk)).toBe(true);
  });

  it.each([0, 1, 127, 128, 16_383, 16_384, 1024 * 1024, 2_097_152])(
    "matches toBinary for %i bytes with room in front, writing the header there and nothing into the data",
    (size) => {
      const chunk = allocateWithHeadroom(size);
      for (let i = 0; i < size; i++) chunk[i] = i % 251;
      const data = Buffer.from(chunk);
      const expected = Buffer.from(
        toBinary(ReadRawResponseSchema, create(ReadRawResponseSchema, { body: { case: "chunk", value: data } })),
      );
      const fast = encodeChunkMessage(chunk);
      expect(fast.equals(expected)).toBe(true);
      // No copy: the message is the chunk's own memory, header in front.
      expect(fast.buffer).toBe(chunk.buffer);
      expect(fast.byteOffset + fast.length).toBe(chunk.byteOffset + chunk.length);
      expect(chunk.equals(data)).toBe(true);
    },
  );

  it("copies a chunk without room in front, and only a chunk that starts where its buffer's data does has room", () => {
    const whole = allocateWithHeadroom(100);
    whole.fill(7);
    expect(headroomOf(whole)).toBe(MESSAGE_HEADROOM_BYTES);
    expect(headroomOf(whole.subarray(0, 10))).toBe(MESSAGE_HEADROOM_BYTES);
    const later = whole.subarray(10);
    expect(headroomOf(later)).toBe(0);
    const fast = encodeChunkMessage(later);
    expect(fast.buffer).not.toBe(whole.buffer);
    expect(whole.every((b) => b === 7)).toBe(true);
    expect(headroomOf(Buffer.alloc(100).subarray(10))).toBe(0);
    const decoded = fromBinary(ReadRawResponseSchema, fast).body;
    expect(Buffer.from(decoded.value as Uint8Array).equals(later)).toBe(true);
  });

  it("applies only to ReadRaw data chunks", () => {
    const readRaw = RawStoreService.method.readRaw;
    expect(readRawChunk(readRaw, { body: { case: "chunk", value: new Uint8Array(3) } })).toHaveLength(3);
    expect(readRawChunk(readRaw, { body: { case: "header", value: {} } })).toBeUndefined();
    expect(readRawChunk(RawStoreService.method.head, { body: { case: "chunk", value: new Uint8Array(3) } })).toBeUndefined();
  });
});
