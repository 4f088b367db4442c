// CRC32C (Castagnoli), the checksum GCS and S3 use, computed incrementally
// as bodies stream. The SDK codes against this interface; the platform's
// implementation (native in Node, WebAssembly in browsers) is chosen once,
// by the entry point, so a browser bundle never pulls in a native module.

/** A running CRC32C: feed the bytes in order, then read the checksum of all of them. */
export interface Crc32c {
  update(bytes: Uint8Array): void;
  /** The checksum of every byte given so far, as an unsigned 32-bit number. */
  digest(): number;
}

/** Starts a fresh CRC32C; asynchronous because WebAssembly instantiates asynchronously. */
export type Crc32cFactory = () => Promise<Crc32c>;

/** The checksum as errors show it: 8 hex digits, as `gsutil hash -h` prints it. */
export function formatCrc32c(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
