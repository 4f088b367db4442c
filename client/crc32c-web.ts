// CRC32C in browsers: hash-wasm's WebAssembly CRC-32 with the Castagnoli
// polynomial (reversed form, as hash-wasm takes it).
import { createCRC32 } from "hash-wasm";
import type { Crc32cFactory } from "./crc32c.js";

const CASTAGNOLI_REVERSED = 0x82f63b78;

export const webCrc32c: Crc32cFactory = async () => {
  const hasher = await createCRC32(CASTAGNOLI_REVERSED);
  return {
    update(bytes: Uint8Array) {
      hasher.update(bytes);
    },
    // digest() ends the hasher; save/load keeps it running for later updates.
    digest() {
      const state = hasher.save();
      const value = Number.parseInt(hasher.digest("hex"), 16);
      hasher.load(state);
      return value;
    },
  };
};
