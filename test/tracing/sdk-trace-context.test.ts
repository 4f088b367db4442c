// The SDK's trace context (client/trace-context.ts), seen by a plain HTTP
// server that records each request's headers: every call carries the active
// span as W3C traceparent on both entry points' transports, unless the
// transport says traceContext: false, and nothing at all while the
// application has registered no propagator. (That the daemon joins the
// trace: daemon-spans.test.ts.)
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, type Transport } from "@connectrpc/connect";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBrowserTransport } from "../../client/browser.js";
import { createStowdTransport } from "../../client/index.js";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";

const seen: IncomingHttpHeaders[] = [];
const server = createServer((req, res) => {
  seen.push(req.headers);
  req.resume();
  res.writeHead(503, { "content-type": "application/json" }).end('{"code":"unavailable","message":"recording only"}');
});
let baseUrl = "";
const provider = new TracerProvider();

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  trace.disable();
  propagation.disable();
  context.disable();
  await provider.shutdown();
  server.close();
  await once(server, "close");
});

const transports: Array<[string, (traceContext?: boolean) => Transport]> = [
  [
    "Node transport (Connect, HTTP/1.1)",
    (traceContext) =>
      createStowdTransport({ baseUrl, protocol: "connect", httpVersion: "1.1", ...(traceContext === undefined ? {} : { traceContext }) }),
  ],
  [
    "browser transport (fetch)",
    (traceContext) => createBrowserTransport({ baseUrl, ...(traceContext === undefined ? {} : { traceContext }) }),
  ],
];

/** The headers of one Head call through `transport`, made under a span of this process; and that span's traceparent. */
async function headUnderSpan(transport: Transport): Promise<{ headers: IncomingHttpHeaders; traceparent: string }> {
  return provider.getTracer("sdk-test").startActiveSpan("client call", async (span) => {
    const before = seen.length;
    expect(trace.getActiveSpan()).toBe(span);
    await createClient(RawStoreService, transport)
      .head({ reference: "mem://b/k" })
      .catch(() => undefined);
    span.end();
    const { traceId, spanId } = span.spanContext();
    expect(seen).toHaveLength(before + 1);
    return { headers: seen[before]!, traceparent: `00-${traceId}-${spanId}-01` };
  });
}

describe.each(transports)("%s", (_, transportWith) => {
  it("sends nothing while the application has registered no propagator", async () => {
    const { headers } = await headUnderSpan(transportWith());
    expect(headers.traceparent).toBeUndefined();
  });

  describe("with the W3C propagator registered", () => {
    beforeAll(() => {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    });
    afterAll(() => {
      propagation.disable();
    });

    it("sends the active span as traceparent", async () => {
      const { headers, traceparent } = await headUnderSpan(transportWith());
      expect(headers.traceparent).toBe(traceparent);
    });

    it("sends none with traceContext: false", async () => {
      const { headers } = await headUnderSpan(transportWith(false));
      expect(headers.traceparent).toBeUndefined();
    });
  });
});
