// How the GCS store talks to @google-cloud/storage beyond its plain methods:
// a cancellable wait for an SDK promise, raw JSON API calls through the
// SDK's authenticated request path, and per-request options for the SDK's
// HTTP layer.
import type { File } from "@google-cloud/storage";

/** Waits for `promise` unless the signal aborts first; an abandoned request still settles, bounded by the SDK's timeout. */
export function settleOrAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as unknown);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** A raw JSON API call through an SDK object (auth, endpoint and error parsing are the SDK's). */
export function apiRequest<T>(target: Pick<File, "request">, reqOpts: Parameters<File["request"]>[0], signal: AbortSignal): Promise<T> {
  return settleOrAbort(
    new Promise<T>((resolve, reject) => target.request(reqOpts, (err, body) => (err ? reject(err) : resolve(body as T)))),
    signal,
  );
}

type Interceptor = File["interceptors"][number];

/** An SDK request interceptor adding `extra` to every request's options (teeny-request's and gaxios's alike). */
export function addRequestOptions(extra: Record<string, unknown>): Interceptor {
  return { request: (reqOpts) => ({ ...reqOpts, ...extra }) as unknown as ReturnType<Interceptor["request"]> };
}
