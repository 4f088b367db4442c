// The interceptors both entry points' transports put on every call: the
// bearer token when one is given, the application's own, and trace context
// last (innermost), so that a span an application interceptor makes active
// around the call is the one the daemon sees as its parent.
import type { Interceptor } from "@connectrpc/connect";
import { bearerToken } from "./bearer-token.js";
import { traceContext } from "./trace-context.js";

export interface CallInterceptorOptions {
  token?: string | undefined;
  interceptors?: Interceptor[] | undefined;
  /** Send the active OpenTelemetry trace context (W3C traceparent); default true. */
  traceContext?: boolean | undefined;
}

export function callInterceptors(options: CallInterceptorOptions): Interceptor[] {
  return [
    ...(options.token === undefined ? [] : [bearerToken(options.token)]),
    ...(options.interceptors ?? []),
    ...(options.traceContext === false ? [] : [traceContext]),
  ];
}
