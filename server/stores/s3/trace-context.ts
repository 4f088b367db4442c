// Carries the active trace context to S3 (W3C traceparent, tracestate) on
// every request, when tracing is on: a middleware at the build step, before
// the request is signed, so the headers are signed like the others (S3
// ignores them; a proxy or a traced S3-compatible server may not). Presigned
// URLs leave them unsigned (signed-urls.ts): the URL's user sends no such header.
import type { S3Client } from "@aws-sdk/client-s3";
import { activeTraceHeaders } from "../../observability/tracing-context.js";

export function propagateTraceContext(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers !== undefined) Object.assign(headers, activeTraceHeaders());
      return next(args);
    },
    { step: "build", name: "stowdTraceContext" },
  );
}
