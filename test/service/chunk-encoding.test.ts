// The hand-written ReadRaw chunk encoding must be exactly protobuf's.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RawStoreService, ReadRawResponseSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { encodeChunkMessage, readRawChunk } from "../../server/transports/chunk-encoding.js";

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

  it("applies only to ReadRaw data chunks", () => {
    const readRaw = RawStoreService.method.readRaw;
    expect(readRawChunk(readRaw, { body: { case: "chunk", value: new Uint8Array(3) } })).toHaveLength(3);
    expect(readRawChunk(readRaw, { body: { case: "header", value: {} } })).toBeUndefined();
    expect(readRawChunk(RawStoreService.method.head, { body: { case: "chunk", value: new Uint8Array(3) } })).toBeUndefined();
  });
});
