// What the daemon's traced stages share: running a stream's steps inside a
// span's context. A generator's body runs in the context of whoever calls
// next(), not of whoever made it, so a span that must be the parent of what
// a stream does (a server stream's handler, a backend read's lazy fetches)
// wraps each step of the iteration. And the headers that carry the active
// context to a backend.
import { context, propagation, type Context } from "@opentelemetry/api";

/** `iterable`, with each step (next, return, throw) run in `active`. */
export function iterateWithin<T>(active: Context, iterable: AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const inner = context.with(active, () => iterable[Symbol.asyncIterator]());
      return {
        next: () => context.with(active, () => inner.next()),
        return: (value?: unknown) =>
          context.with(active, () => inner.return?.(value) ?? Promise.resolve({ done: true as const, value: value as T })),
        throw: (err?: unknown) => context.with(active, () => inner.throw?.(err) ?? Promise.reject(err as Error)),
      };
    },
  };
}

/**
 * The active trace context as request headers for a backend (W3C
 * traceparent and tracestate, or what OTEL_PROPAGATORS names); empty
 * outside a span. The s3, gcs and azure stores add them to every request
 * when tracing is on.
 */
export function activeTraceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}

/** The header names activeTraceHeaders() may set: a presigned URL must not sign them (s3/signed-urls.ts). */
export function traceHeaderNames(): string[] {
  return propagation.fields();
}
