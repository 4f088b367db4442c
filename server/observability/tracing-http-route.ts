// A SERVER span per request of a plain HTTP route (the daemon-signed URLs:
// signed-urls/signed-url-route.ts), for routes that are not RPCs and so do
// not pass the call pipeline's tracing stage (calls/call-tracing.ts). Named
// and described per the OpenTelemetry HTTP conventions ("GET /signed/"),
// parented on the request's W3C traceparent, and active while the route
// serves, so backend spans become its children. The URL itself is not
// recorded: a signed URL's query is a credential.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { context, defaultTextMapGetter, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";

const HTTP_METHODS = new Set(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"]);

type Route<Req extends http.IncomingMessage | http2.Http2ServerRequest, Res extends http.ServerResponse | http2.Http2ServerResponse> = (
  req: Req,
  res: Res,
) => void;

/** `route` (answering under `path`, e.g. "/signed/") with a span per request, ended when its response closes. */
export function traceHttpRoute<
  Req extends http.IncomingMessage | http2.Http2ServerRequest,
  Res extends http.ServerResponse | http2.Http2ServerResponse,
>(tracer: Tracer, path: string, route: Route<Req, Res>): Route<Req, Res> {
  return (req, res) => {
    // The conventions' bound on what a client can put into span names: any other method is "_OTHER".
    const method = HTTP_METHODS.has(req.method ?? "") ? (req.method as string) : "_OTHER";
    const parent = propagation.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const span = tracer.startSpan(
      `${method === "_OTHER" ? "HTTP" : method} ${path}`,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "http.route": path } },
      parent,
    );
    res.once("close", () => {
      span.setAttribute("http.response.status_code", res.statusCode);
      const reason = res.getHeader("x-stowd-reason");
      if (typeof reason === "string") span.setAttribute("stowd.error.reason", reason);
      // The HTTP conventions: a SERVER span fails on 5xx only; 4xx is the client's.
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), route, undefined, req, res);
  };
}
