// Tracing end to end, as the "done when" asks: a daemon PROCESS with
// an s3:// backend on the real Ceph gateway, exporting OTLP/HTTP (JSON) to a
// receiver this test runs, and this process as the traced client (an
// in-memory span exporter and the W3C propagator, registered here). A
// ReadRaw under a client span must come back as the daemon's SERVER span in
// the client's trace, parented on the client span, with the backend's S3
// read as its CLIENT child; the S3 request itself, seen by a recording proxy
// in front of Ceph, carries that backend span as its W3C traceparent. With
// tracing off (no OTEL_* set, or OTEL_SDK_DISABLED=true) the same calls
// leave no span, export nothing and send no traceparent to the backend. And
// a collector that cannot be reached holds a graceful stop up only briefly.
import { context, propagation, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient as createBrowserClient } from "../../client/browser.js";
import { createStowdClient, createStowdTransport, type StowdClient } from "../../client/index.js";
import { SHUTDOWN_BOUND_MS } from "../../server/observability/tracing.js";
import { freePort } from "../helpers/free-port.js";
import { startChildDaemon, type ChildDaemon } from "../ops/child-daemon.js";
import { startCephRgw, type CephRgw } from "../servers/ceph-rgw.js";
import { startOtlpReceiver, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy.js";

const BUCKET = "tracing";
const READ_RAW = "stowd.v1.RawStoreService/ReadRaw";
const SIGNING_SECRET = "a-tracing-test-secret-of-32-bytes-or-more";

let rgw: CephRgw;
let proxy: RecordingProxy;
let receiver: OtlpReceiver;
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
let tracer: Tracer;

/** The s3: scheme on Ceph, through the recording proxy. */
function s3Scheme(): string[] {
  return [
    "s3:",
    "  config:",
    `    endpoint: ${proxy.endpoint}`,
    `    region: ${rgw.region}`,
    "    auth_type: accesskey",
    `    access_key_id: ${rgw.accessKeyId}`,
    `    secret_key: ${rgw.secretAccessKey}`,
    '    disable_ssl: "true"',
  ];
}

/** Runs `call` under a client span of this process; returns the span's ids. */
async function underClientSpan(name: string, call: () => Promise<unknown>): Promise<{ traceId: string; spanId: string }> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      await call();
    } finally {
      span.end();
    }
    return { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
  });
}

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  tracer = trace.getTracer("stowd-test-client");
  [rgw, receiver] = await Promise.all([startCephRgw({ bucket: BUCKET }), startOtlpReceiver()]);
  proxy = await startRecordingProxy(rgw.endpoint);
}, 120_000);

afterAll(async () => {
  trace.disable();
  propagation.disable();
  context.disable();
  await provider.shutdown();
  await Promise.all([proxy?.close(), receiver?.close()]);
  await rgw?.stop();
});

describe("with OTEL_EXPORTER_OTLP_ENDPOINT set", () => {
  let daemon: ChildDaemon;
  let client: StowdClient;

  beforeAll(async () => {
    daemon = await startChildDaemon(
      // Daemon-signed URLs for mem://, served on the HTTP port.
      ["signedUrls:", `  keys: [{id: k, secret: ${SIGNING_SECRET}}]`],
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "20" },
      s3Scheme(),
    );
    client = createStowdClient({ baseUrl: daemon.grpcUrl });
    await client.write(`s3://${BUCKET}/traced.txt`, "traced through S3");
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await daemon?.cleanup();
  });

  it("exports a ReadRaw's SERVER span in the client's trace, with the S3 read as its CLIENT child and traceparent sent to S3", async () => {
    let bytes: Uint8Array | undefined;
    const caller = await underClientSpan("client read", async () => (bytes = await client.readBytes(`s3://${BUCKET}/traced.txt`)));
    expect(new TextDecoder().decode(bytes)).toBe("traced through S3");

    const server = await receiver.waitForSpan((s) => s.name === READ_RAW && s.traceId === caller.traceId);
    expect(server).toMatchObject({
      kind: SPAN_KIND_SERVER,
      parentSpanId: caller.spanId,
      statusCode: 0,
      attributes: {
        "rpc.system": "grpc",
        "rpc.service": "stowd.v1.RawStoreService",
        "rpc.method": "ReadRaw",
        "rpc.grpc.status_code": 0,
      },
      resource: { "service.name": "stowd" },
    });
    expect(server.attributes["stowd.request_id"]).toMatch(/^[0-9a-f-]{36}$/);

    const backend = await receiver.waitForSpan((s) => s.name === "s3 read" && s.parentSpanId === server.spanId);
    expect(backend).toMatchObject({
      traceId: caller.traceId,
      kind: SPAN_KIND_CLIENT,
      attributes: { "stowd.backend": "s3", "stowd.scheme": "s3", "stowd.op": "read" },
    });

    // The object's GET at the S3 gateway names the backend span as its parent.
    const get = proxy.requests.find(
      (r) => r.method === "GET" && r.path.startsWith(`/${BUCKET}/traced.txt`) && r.headers.traceparent !== undefined,
    );
    expect(get?.headers.traceparent).toBe(`00-${caller.traceId}-${backend.spanId}-01`);
  });

  it("traces calls on the HTTP port too (Connect protocol), with the answer's code", async () => {
    const transport = createStowdTransport({ baseUrl: daemon.httpUrl, protocol: "connect" });
    const http = createStowdClient({ transport });
    try {
      const caller = await underClientSpan("client reads a missing object", () =>
        http.readBytes(`s3://${BUCKET}/missing.txt`).then(
          () => expect.unreachable("the object does not exist"),
          () => undefined,
        ),
      );
      const server = await receiver.waitForSpan((s) => s.name === READ_RAW && s.traceId === caller.traceId);
      expect(server).toMatchObject({
        parentSpanId: caller.spanId,
        // NOT_FOUND is an answer, not a fault of the server: the RPC conventions leave the status unset.
        statusCode: 0,
        attributes: { "rpc.system": "connect_rpc", "rpc.grpc.status_code": 5 },
      });
    } finally {
      transport.close();
    }
  });

  it("joins the trace of a call from the SDK's browser transport (Connect over fetch)", async () => {
    const browser = createBrowserClient({ baseUrl: daemon.httpUrl });
    const caller = await underClientSpan("browser client heads", () => browser.head(`s3://${BUCKET}/traced.txt`));
    const server = await receiver.waitForSpan((s) => s.name === "stowd.v1.RawStoreService/Head" && s.traceId === caller.traceId);
    expect(server).toMatchObject({ parentSpanId: caller.spanId, attributes: { "rpc.system": "connect_rpc", "rpc.grpc.status_code": 0 } });
    await receiver.waitForSpan((s) => s.name === "s3 head" && s.parentSpanId === server.spanId);
  });

  it("presigns S3 URLs that work without the trace headers (they are not signed)", async () => {
    // Signed inside a span: the presign goes through the S3 client whose requests carry traceparent.
    let url = "";
    await underClientSpan("client signs an S3 URL", async () => {
      url = (await client.createSignedUrl(`s3://${BUCKET}/traced.txt`, { method: "GET", expiresInSeconds: 60 })).url;
    });
    expect(new URL(url).searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    const answer = await fetch(url);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("traced through S3");
  });

  it("traces a daemon-signed URL's request, with the store's read as its child", async () => {
    await client.write("mem://signed/object.txt", "signed bytes");
    const signed = await client.createSignedUrl("mem://signed/object.txt", { method: "GET", expiresInSeconds: 60 });
    const headers: Record<string, string> = {};
    const caller = await underClientSpan("client fetches a signed URL", async () => {
      propagation.inject(context.active(), headers);
      expect(await (await fetch(signed.url, { headers })).text()).toBe("signed bytes");
    });
    const server = await receiver.waitForSpan((s) => s.name === "GET /signed/" && s.traceId === caller.traceId);
    expect(server).toMatchObject({
      kind: SPAN_KIND_SERVER,
      parentSpanId: caller.spanId,
      attributes: { "http.request.method": "GET", "http.route": "/signed/", "http.response.status_code": 200 },
    });
    await receiver.waitForSpan((s) => s.name === "memory read" && s.parentSpanId === server.spanId);
  });
});

describe.each([
  { off: "no OTEL_* variable set", env: (): Record<string, string> => ({}) },
  {
    off: "OTEL_SDK_DISABLED=true beside an endpoint",
    env: (): Record<string, string> => ({
      OTEL_SDK_DISABLED: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    }),
  },
])("with $off", ({ env }) => {
  it("makes no span, exports nothing and sends no traceparent to the backend", async () => {
    const exportsBefore = receiver.exports;
    const daemon = await startChildDaemon([], env(), s3Scheme());
    const client = createStowdClient({ baseUrl: daemon.grpcUrl });
    try {
      const ref = `s3://${BUCKET}/untraced.txt`;
      await client.write(ref, "not traced");
      const proxiedBefore = proxy.requests.length;
      // The client sends its traceparent; a daemon without tracing passes nothing on.
      const caller = await underClientSpan("client read, daemon untraced", () => client.readBytes(ref));
      const sent = proxy.requests.slice(proxiedBefore);
      expect(sent.some((r) => r.method === "GET" && r.path.startsWith(`/${BUCKET}/untraced.txt`))).toBe(true);
      expect(sent.filter((r) => r.headers.traceparent !== undefined)).toEqual([]);
      expect(daemon.logs().some((line) => line.msg === "tracing on")).toBe(false);
      // A graceful stop flushes whatever a tracing daemon would still hold: after it, nothing can arrive late.
      daemon.signal("SIGTERM");
      expect(await daemon.exited).toBe(0);
      expect(receiver.exports).toBe(exportsBefore);
      expect(receiver.spans.filter((s: ReceivedSpan) => s.traceId === caller.traceId)).toEqual([]);
    } finally {
      client.close();
      await daemon.cleanup();
    }
  });
});

describe("with a collector that cannot be reached", () => {
  it("stops within the bound on exporting the last spans, and exits 0", async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const daemon = await startChildDaemon([], { OTEL_EXPORTER_OTLP_ENDPOINT: unreachable, OTEL_BSP_SCHEDULE_DELAY: "600000" });
    const client = createStowdClient({ baseUrl: daemon.grpcUrl });
    try {
      // A span the stop must try to export.
      expect(await client.head("mem://b/absent")).toBeUndefined();
      const stopping = performance.now();
      daemon.signal("SIGTERM");
      expect(await daemon.exited).toBe(0);
      expect(performance.now() - stopping).toBeLessThan(SHUTDOWN_BOUND_MS + 2_000);
      expect(daemon.logs().some((line) => line.level === "warn" && String(line.msg).startsWith("tracing: the last spans"))).toBe(true);
    } finally {
      client.close();
      await daemon.cleanup();
    }
  });
});
