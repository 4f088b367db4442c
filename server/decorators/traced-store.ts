// Tracing for a backend of the store tree: one CLIENT span per operation
// ("s3 read", "gcs write", ...: backend kind and op), with the backend, the
// reference's scheme and the op as attributes. The tree builder wraps each
// backend with it, once, and only when tracing is on (assembly/store-tree.ts).
// The span is the active context while the operation runs, so the backends'
// requests carry it as W3C traceparent where their SDKs allow (the s3, gcs
// and azure stores' trace-context hooks). A read's span ends when its body
// ends, fails or is abandoned (close()), not when the read is opened.
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from "@opentelemetry/api";
import { StowdError } from "../../common/errors.js";
import { maskReference } from "../calls/call-log.js";
import { iterateWithin } from "../observability/tracing-context.js";
import type { Ref } from "../references/reference.js";
import type { RawStore, ReadResult } from "../stores/raw-store.js";

/** Outcomes that are answers, not backend faults: they leave the span's status unset. */
const ANSWERS = new Set(["NOT_FOUND", "ALREADY_EXISTS", "PRECONDITION_FAILED", "OUT_OF_RANGE", "CANCELLED"]);

export function withTracing(inner: RawStore, tracer: Tracer): RawStore {
  const backend = inner.kind;

  function startSpan(op: string, ref: Pick<Ref, "scheme">): Span {
    const attributes: Attributes = { "stowd.backend": backend, "stowd.scheme": ref.scheme, "stowd.op": op };
    return tracer.startSpan(`${backend} ${op}`, { kind: SpanKind.CLIENT, attributes });
  }

  async function traced<T>(op: string, ref: Pick<Ref, "scheme">, run: () => Promise<T>): Promise<T> {
    const span = startSpan(op, ref);
    try {
      return await context.with(trace.setSpan(context.active(), span), run);
    } catch (err) {
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  return {
    ...inner,
    head: (ref, signal) => traced("head", ref, () => inner.head(ref, signal)),
    async read(ref, readOptions, signal): Promise<ReadResult> {
      const span = startSpan("read", ref);
      const active = trace.setSpan(context.active(), span);
      let opened: ReadResult;
      try {
        opened = await context.with(active, () => inner.read(ref, readOptions, signal));
      } catch (err) {
        fail(span, err);
        span.end();
        throw err;
      }
      span.setAttribute("stowd.bytes", opened.length);
      // Ends once, whichever comes first: the body's end or failure, or close() of a body left unread.
      let ended = false;
      const end = (err?: unknown) => {
        if (ended) return;
        ended = true;
        if (err !== undefined) fail(span, err);
        span.end();
      };
      async function* body(): AsyncGenerator<Uint8Array> {
        try {
          yield* iterateWithin(active, opened.body);
        } catch (err) {
          end(err);
          throw err;
        } finally {
          end();
        }
      }
      return {
        ...opened,
        body: body(),
        async close() {
          try {
            await opened.close();
          } finally {
            end();
          }
        },
      };
    },
    write: (ref, body, writeOptions, signal) => traced("write", ref, () => inner.write(ref, body, writeOptions, signal)),
    append: (ref, body, appendOptions, signal) => traced("append", ref, () => inner.append(ref, body, appendOptions, signal)),
    list: (prefix, listOptions, signal) => traced("list", prefix, () => inner.list(prefix, listOptions, signal)),
    delete: (ref, deleteOptions, signal) => traced("delete", ref, () => inner.delete(ref, deleteOptions, signal)),
    deletePrefix: (prefix, signal) => traced("delete_prefix", prefix, () => inner.deletePrefix(prefix, signal)),
    copy: (source, destination, copyOptions, signal) =>
      traced("copy", destination, () => inner.copy(source, destination, copyOptions, signal)),
    signUrl: (ref, signOptions, signal) => traced("sign_url", ref, () => inner.signUrl(ref, signOptions, signal)),
  };
}

/** Records a failure on the span; a backend fault also sets its error status. */
function fail(span: Span, err: unknown): void {
  const reason = err instanceof StowdError ? err.reason : undefined;
  if (reason !== undefined) span.setAttribute("stowd.error.reason", reason);
  if (reason !== undefined && ANSWERS.has(reason)) return;
  span.setStatus({ code: SpanStatusCode.ERROR, message: maskReference(err instanceof Error ? err.message : String(err)) });
}
