// The download limit (Flyte's `limits.maxDownloadMBs`): a read of more bytes
// than the limit fails with RESOURCE_EXHAUSTED before any byte is sent, with
// Flyte's wording. Unlike Flyte it compares bytes exactly (not whole MiB),
// counts a range by the bytes it serves, checks the size the open read
// reports (no HEAD/GET gap) and also counts bytes while streaming, so an
// object that grows underneath is cut off with an error, never truncated.
// Copies are not downloads: copy() passes through unlimited.
import { StowdError } from "../../common/errors.js";
import { formatReference } from "../references/reference.js";
import type { RawStore, ReadResult } from "../stores/raw-store.js";
import { MiB } from "../../common/units.js";

export interface DownloadLimitOptions {
  /** `limits.maxDownloadMBs`; 0 = unlimited. */
  maxDownloadMBs: number;
  /** Called on every rejection (for metrics). */
  onReject?: () => void;
}

/** Flyte's message: `limit exceeded. 5.357096mb > 2mb. You can increase the limit by setting maxDownloadMBs.` */
export function limitExceeded(reference: string, size: number, maxDownloadMBs: number): StowdError {
  const message = `limit exceeded. ${(size / MiB).toFixed(6)}mb > ${maxDownloadMBs}mb. You can increase the limit by setting maxDownloadMBs.`;
  return new StowdError("LIMIT_EXCEEDED", message, { reference, size, limit: Math.floor(maxDownloadMBs * MiB) });
}

export function withDownloadLimit(inner: RawStore, options: DownloadLimitOptions): RawStore {
  const { maxDownloadMBs } = options;
  if (maxDownloadMBs <= 0) return inner;
  const limitBytes = Math.floor(maxDownloadMBs * MiB);

  async function* counted(body: AsyncIterable<Uint8Array>, reference: string): AsyncGenerator<Uint8Array> {
    let seen = 0;
    for await (const chunk of body) {
      seen += chunk.length;
      if (seen > limitBytes) {
        options.onReject?.();
        throw limitExceeded(reference, seen, maxDownloadMBs);
      }
      yield chunk;
    }
  }

  return {
    ...inner,
    async read(ref, readOptions, signal): Promise<ReadResult> {
      const opened = await inner.read(ref, readOptions, signal);
      const reference = formatReference(ref, ref.key);
      if (opened.length > limitBytes) {
        await opened.close();
        options.onReject?.();
        throw limitExceeded(reference, opened.length, maxDownloadMBs);
      }
      return { ...opened, body: counted(opened.body, reference) };
    },
  };
}
