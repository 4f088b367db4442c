// The CRC32C helpers every store uses (server/stores/kit/crc32c.ts): the
// combination an append relies on, checked against the library computing the
// whole; the base64 form GCS, S3 and Azure metadata carry; and a body's
// CRC32C tracked as a store reads it.
import { crc32c } from "@node-rs/crc32";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { appendedCrc32c, combineCrc32c, crc32cFromBase64, crc32cToBase64, trackCrc32c } from "../../server/stores/kit/crc32c.js";
import { chunked } from "../helpers/store-calls.js";

describe("CRC32C helpers", () => {
  it.each([
    [0, 0],
    [0, 5],
    [5, 0],
    [1, 1],
    [100, 3],
    [7, 1 << 20],
    [3, 1_000_003],
    [65_536, 65_536],
  ])("combines the CRC32C of %i and %i bytes into that of both", (a, b) => {
    const first = randomBytes(a);
    const second = randomBytes(b);
    expect(combineCrc32c(crc32c(first), crc32c(second), b)).toBe(crc32c(Buffer.concat([first, second])));
  });

  it("extends a known CRC32C, starts from an empty or missing object, and gives up on an unknown one", () => {
    const hello = Buffer.from("hello");
    const world = Buffer.from(" world");
    expect(appendedCrc32c({ size: 5, crc32c: crc32c(hello) }, crc32c(world), 6)).toBe(crc32c(Buffer.from("hello world")));
    expect(appendedCrc32c(undefined, crc32c(world), 6)).toBe(crc32c(world));
    expect(appendedCrc32c({ size: 0 }, crc32c(world), 6)).toBe(crc32c(world));
    expect(appendedCrc32c({ size: 5 }, crc32c(world), 6)).toBeUndefined();
  });

  it("writes and reads the big-endian base64 form, refusing anything else", () => {
    // The CRC32C of "123456789" is 0xE3069283 (the check value of the Castagnoli CRC).
    expect(crc32cToBase64(0xe3069283)).toBe(Buffer.from("e3069283", "hex").toString("base64"));
    for (const value of [0, 1, 0xe3069283, 0xffffffff]) expect(crc32cFromBase64(crc32cToBase64(value))).toBe(value);
    for (const text of [undefined, "", "AAAA", "AAAAAAAA", "4waSgw=", "4waSgx==", 42]) expect(crc32cFromBase64(text)).toBeUndefined();
  });

  it("tracks a body's CRC32C as it is read, and only answers once it ended", async () => {
    const data = randomBytes(300_000);
    const tracked = trackCrc32c(chunked(data), undefined);
    expect(() => tracked.crc32c.value()).toThrow("before the body ended");
    let read = 0;
    for await (const chunk of tracked.body) read += chunk.length;
    expect(read).toBe(data.length);
    expect(tracked.crc32c.value()).toBe(crc32c(data));
    expect(tracked.crc32c.declared).toBeUndefined();
    // A caller's own CRC32C is used as it is, with the body untouched.
    const given = { declared: 5, value: () => 5 };
    const body = chunked(data);
    expect(trackCrc32c(body, given)).toEqual({ body, crc32c: given });
  });
});
