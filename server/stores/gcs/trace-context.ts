// Carries the active trace context to GCS (W3C traceparent, tracestate) on
// every request the SDK makes, when tracing is on: a request interceptor,
// the SDK's hook for per-request options (as requests.ts's addRequestOptions).
import type { File } from "@google-cloud/storage";
import { activeTraceHeaders } from "../../observability/tracing-context.js";

type Interceptor = File["interceptors"][number];

export const traceContextInterceptor: Interceptor = {
  request: (reqOpts) => {
    const { headers } = reqOpts as { headers?: Record<string, string> };
    return { ...reqOpts, headers: { ...headers, ...activeTraceHeaders() } } as unknown as ReturnType<Interceptor["request"]>;
  },
};
