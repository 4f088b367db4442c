// Carries the active trace context to Azure Blob (W3C traceparent,
// tracestate) on every request, when tracing is on: a request policy in the
// client's pipeline. (The SDK's own tracing policy sends them only with
// @azure/opentelemetry-instrumentation-azure-sdk registered, which would
// also add spans of its own.)
import type { HttpOperationResponse, RequestPolicy, RequestPolicyFactory, WebResource } from "@azure/storage-blob";
import { activeTraceHeaders } from "../../observability/tracing-context.js";

export const traceContextPolicy: RequestPolicyFactory = {
  create: (next: RequestPolicy): RequestPolicy => ({
    sendRequest(request: WebResource): Promise<HttpOperationResponse> {
      for (const [name, value] of Object.entries(activeTraceHeaders())) request.headers.set(name, value);
      return next.sendRequest(request);
    },
  }),
};
