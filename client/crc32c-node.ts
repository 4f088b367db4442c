// CRC32C in Node: @node-rs/crc32's native (SSE4.2 / ARMv8 CRC instruction) implementation.
import { crc32c } from "@node-rs/crc32";
import type { Crc32cFactory } from "./crc32c.js";

export const nodeCrc32c: Crc32cFactory = () => {
  let state = 0;
  return Promise.resolve({
    update(bytes: Uint8Array) {
      state = crc32c(bytes, state);
    },
    digest: () => state,
  });
};
