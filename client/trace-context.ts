// Trace context on the wire: the active OpenTelemetry context goes with every
// call as W3C `traceparent` / `tracestate` headers (or whatever propagator
// the application registered), so the daemon's spans join the caller's
// trace. It goes through @opentelemetry/api's global propagator: with none
// registered (an application without OpenTelemetry) inject() does nothing.
// Platform-neutral, so both entry points' transports share it.
import type { Interceptor } from "@connectrpc/connect";
import { context, propagation, type TextMapSetter } from "@opentelemetry/api";

const headerSetter: TextMapSetter<Headers> = {
  set: (headers, key, value) => headers.set(key, value),
};

/** An interceptor that injects the active trace context into the request headers. */
export const traceContext: Interceptor = (next) => (req) => {
  propagation.inject(context.active(), req.header, headerSetter);
  return next(req);
};
