// Metrics for a backend of the store tree: every operation counted and timed
// by backend, scheme, op and status code, bytes counted as they stream, and
// open streams gauged. The tree builder wraps each backend with it, once, so
// each operation is counted once: decorators count only their own outcomes
// (stowd_layer_outcomes_total: cache hits, limit refusals). Labels
// take only known values: a scheme that is not configured (anyone can send
// one) is counted as "other", so callers cannot grow the label set.
import type { Ref } from "../references/reference.js";
import type { RawStore, ReadResult } from "../stores/raw-store.js";
import { codeLabel, type Metrics } from "../observability/metrics.js";

export interface MeteredStoreOptions {
  metrics: Metrics;
  /** The configured schemes: the only values the scheme label takes, besides "other". */
  schemes: readonly string[];
}

/** The scheme label of every scheme that is not configured. */
export const OTHER_SCHEME_LABEL = "other";

export function withMetrics(inner: RawStore, options: MeteredStoreOptions): RawStore {
  const { metrics } = options;
  const backend = inner.kind;
  const schemes = new Set(options.schemes);
  const schemeLabel = (ref: Pick<Ref, "scheme">): string => (schemes.has(ref.scheme) ? ref.scheme : OTHER_SCHEME_LABEL);

  async function timed<T>(op: string, ref: Pick<Ref, "scheme">, run: () => Promise<T>): Promise<T> {
    const stop = metrics.storeDuration.startTimer();
    let err: unknown;
    try {
      return await run();
    } catch (e) {
      err = e;
      throw e;
    } finally {
      const labels = { backend, scheme: schemeLabel(ref), op, code: codeLabel(err) };
      stop(labels);
      metrics.storeOperations.inc(labels);
    }
  }

  async function* countedBody(body: AsyncIterable<Uint8Array>, op: string, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
    const streams = metrics.storeStreamsInFlight.labels({ backend, op });
    streams.inc();
    try {
      for await (const chunk of body) {
        onBytes(chunk.length);
        yield chunk;
      }
    } finally {
      streams.dec();
    }
  }

  return {
    ...inner,
    head: (ref, signal) => timed("head", ref, () => inner.head(ref, signal)),
    async read(ref, readOptions, signal): Promise<ReadResult> {
      const opened = await timed("read", ref, () => inner.read(ref, readOptions, signal));
      const bytes = metrics.storeBytesRead.labels({ backend, scheme: schemeLabel(ref) });
      return { ...opened, body: countedBody(opened.body, "read", (n) => bytes.inc(n)) };
    },
    write(ref, body, writeOptions, signal) {
      const bytes = metrics.storeBytesWritten.labels({ backend, scheme: schemeLabel(ref) });
      return timed("write", ref, () =>
        inner.write(
          ref,
          countedBody(body, "write", (n) => bytes.inc(n)),
          writeOptions,
          signal,
        ),
      );
    },
    append(ref, body, appendOptions, signal) {
      const bytes = metrics.storeBytesWritten.labels({ backend, scheme: schemeLabel(ref) });
      return timed("append", ref, () =>
        inner.append(
          ref,
          countedBody(body, "append", (n) => bytes.inc(n)),
          appendOptions,
          signal,
        ),
      );
    },
    list: (prefix, listOptions, signal) => timed("list", prefix, () => inner.list(prefix, listOptions, signal)),
    delete: (ref, deleteOptions, signal) => timed("delete", ref, () => inner.delete(ref, deleteOptions, signal)),
    deletePrefix: (prefix, signal) => timed("delete_prefix", prefix, () => inner.deletePrefix(prefix, signal)),
    copy: (source, destination, copyOptions, signal) =>
      timed("copy", destination, () => inner.copy(source, destination, copyOptions, signal)),
    signUrl: (ref, signOptions, signal) => timed("sign_url", ref, () => inner.signUrl(ref, signOptions, signal)),
  };
}
